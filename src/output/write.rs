//! Writing all files or none: temporary files first, renamed over their targets at the end.

use std::hash::BuildHasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::plan::{check_folder, target_state, TargetState};
use super::{io_error, OutputError, OutputFile};

/// What a run did, by file name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Files that were not there.
    pub created: Vec<String>,
    /// Files of dpo-oracle's that were there with other bytes.
    pub replaced: Vec<String>,
    /// Files of dpo-oracle's already byte-identical (not rewritten).
    pub unchanged: Vec<String>,
}

/// Writes `files` into `dir` (created if missing) under the guard of [`check_folder`]: refused
/// before anything is written if a target is not absent and not recognised by `ours(name, text)`
/// as a file dpo-oracle wrote; then every changed file goes to a temporary file of its own
/// (exclusive creation, synced), the guard is checked again, and the temporary files are renamed
/// over their targets. On an error before the renames, the temporary files and folders this run
/// created are removed and nothing else is touched.
pub fn write_folder(
    dir: &Path,
    files: &[OutputFile],
    ours: impl Fn(&str, &str) -> bool,
) -> Result<Written, OutputError> {
    let plan = check_folder(dir, files, &ours)?;
    let mut run = Run::default();
    let staged = run.stage(&plan.folders, &plan.targets, files);
    // The guard again, just before replacing anything: a file may have appeared meanwhile.
    let rechecked = staged.and_then(|()| {
        files
            .iter()
            .zip(&plan.targets)
            .try_for_each(|(f, (path, _))| target_state(path, f, &ours).map(drop))
    });
    if let Err(e) = rechecked {
        run.clean_up();
        return Err(e);
    }
    run.commit()?;
    let mut written = Written::default();
    for (f, (_, state)) in files.iter().zip(&plan.targets) {
        match state {
            TargetState::Absent => written.created.push(f.name.clone()),
            TargetState::Ours { same: false } => written.replaced.push(f.name.clone()),
            TargetState::Ours { same: true } => written.unchanged.push(f.name.clone()),
        }
    }
    Ok(written)
}

/// The temporary files and folders one run created.
#[derive(Default)]
struct Run {
    folders: Vec<PathBuf>,
    staged: Vec<(PathBuf, PathBuf)>,
}

impl Run {
    /// Creates the missing folders and writes every changed file to a temporary file.
    fn stage(
        &mut self,
        folders: &[PathBuf],
        targets: &[(PathBuf, TargetState)],
        files: &[OutputFile],
    ) -> Result<(), OutputError> {
        for folder in folders {
            match std::fs::create_dir(folder) {
                Ok(()) => self.folders.push(folder.clone()),
                // Another run created it meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && folder.is_dir() => {}
                Err(e) => return Err(io_error(folder, "create the folder", &e)),
            }
        }
        for (f, (target, state)) in files.iter().zip(targets) {
            if *state != (TargetState::Ours { same: true }) {
                let tmp = self.temporary(target, &f.bytes)?;
                self.staged.push((tmp, target.clone()));
            }
        }
        Ok(())
    }

    /// Writes `bytes` to a new temporary file next to `target` and syncs it.
    fn temporary(&self, target: &Path, bytes: &[u8]) -> Result<PathBuf, OutputError> {
        let mut attempt = 0;
        loop {
            let tmp = temporary_name(target);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(mut file) => {
                    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(io_error(&tmp, "write", &e));
                    }
                    return Ok(tmp);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                    attempt += 1;
                }
                Err(e) => return Err(io_error(&tmp, "create a temporary file", &e)),
            }
        }
    }

    /// Renames every temporary file over its target, then syncs the folders.
    fn commit(mut self) -> Result<(), OutputError> {
        let staged = std::mem::take(&mut self.staged);
        let mut folders: Vec<PathBuf> = Vec::new();
        for (i, (tmp, target)) in staged.iter().enumerate() {
            if let Err(e) = std::fs::rename(tmp, target) {
                for (rest, _) in &staged[i..] {
                    let _ = std::fs::remove_file(rest);
                }
                return Err(OutputError::Io {
                    path: target.display().to_string(),
                    action: "replace",
                    message: format!("{e} ({i} of {} files were already replaced)", staged.len()),
                });
            }
            if let Some(parent) = target.parent() {
                if !folders.iter().any(|f| f == parent) {
                    folders.push(parent.to_path_buf());
                }
            }
        }
        // Best effort: make the renames durable (not every platform can sync a folder).
        for folder in folders {
            if let Ok(f) = std::fs::File::open(&folder) {
                let _ = f.sync_all();
            }
        }
        Ok(())
    }

    /// Removes what this run created: its temporary files, then its (now empty) folders.
    fn clean_up(self) {
        for (tmp, _) in &self.staged {
            let _ = std::fs::remove_file(tmp);
        }
        for folder in self.folders.iter().rev() {
            let _ = std::fs::remove_dir(folder);
        }
    }
}

/// `.NAME.PID-COUNTER-RANDOM.tmp` next to `target`: unique to this process and call, and
/// unpredictable, so that no one can plant a file or link under it in advance (and creation is
/// exclusive anyway).
fn temporary_name(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let random = std::collections::hash_map::RandomState::new().hash_one((pid, n, nanos));
    let base = target
        .file_name()
        .map_or_else(String::new, |b| b.to_string_lossy().into_owned());
    target.with_file_name(format!(".{base}.{pid}-{n}-{random:016x}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_differ_and_stay_in_the_folder() {
        let a = temporary_name(Path::new("d/x.json"));
        let b = temporary_name(Path::new("d/x.json"));
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(Path::new("d")));
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".x.json.") && name.ends_with(".tmp"),
            "{name}"
        );
    }
}
