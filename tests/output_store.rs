//! The output store (`dpo_oracle::output`) under hostile folders: refused before anything is
//! written, all or nothing when a write fails partway, untroubled by runs in parallel, and a
//! comparison that writes nothing. Small synthetic files, so these run in milliseconds.

#![cfg(unix)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use dpo_oracle::output::{
    check_folder, compare_folder, write_folder, Comparison, OutputError, OutputFile,
};

fn temp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "dpo-oracle-store-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Files dpo-oracle "wrote" here: their text starts with this marker.
const MARK: &str = "#ours\n";

fn ours(_name: &str, text: &str) -> bool {
    text.starts_with(MARK)
}

fn files(version: &str) -> Vec<OutputFile> {
    ["a.json", "b.json", "sub/c.json"]
        .iter()
        .map(|n| OutputFile::text(*n, format!("{MARK}{n} {version}\n")))
        .collect()
}

/// Every path under `dir` (links not followed) with its bytes, "<dir>" or its link target.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push((p, t.into_os_string().into_encoded_bytes()));
            } else if m.is_dir() {
                out.push((p.clone(), b"<dir>".to_vec()));
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn writes_creates_replaces_ours_and_leaves_identical_files_alone() {
    let dir = temp("basic").join("new/deeper");
    let w = write_folder(&dir, &files("v1"), ours).unwrap();
    assert_eq!(w.created, ["a.json", "b.json", "sub/c.json"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("sub/c.json")).unwrap(),
        "#ours\nsub/c.json v1\n"
    );
    let inode = std::fs::metadata(dir.join("a.json")).unwrap().ino();
    let mut v2 = files("v1");
    v2[1] = OutputFile::text("b.json", format!("{MARK}b.json v2\n"));
    let w = write_folder(&dir, &v2, ours).unwrap();
    assert_eq!(
        (w.created.len(), w.replaced, w.unchanged.len()),
        (0, vec!["b.json".to_string()], 2)
    );
    // An identical file is not rewritten (same inode); a replaced one has the new bytes.
    assert_eq!(std::fs::metadata(dir.join("a.json")).unwrap().ino(), inode);
    assert_eq!(
        std::fs::read_to_string(dir.join("b.json")).unwrap(),
        "#ours\nb.json v2\n"
    );
    assert_eq!(
        snapshot(&dir).len(),
        4,
        "three files and sub/, no temporaries"
    );
}

#[test]
fn refuses_before_writing_anything() {
    let outside = temp("outside");
    std::fs::write(outside.join("x"), "outside").unwrap();
    type Setup = fn(&Path, &Path);
    type Expect = fn(&OutputError) -> bool;
    let cases: Vec<(&str, Setup, Expect)> = vec![
        (
            "text not ours",
            |d, _| std::fs::write(d.join("b.json"), "{\"mine\": 1}").unwrap(),
            |e| matches!(e, OutputError::NotOurs { path } if path.ends_with("b.json")),
        ),
        (
            "binary",
            |d, _| std::fs::write(d.join("b.json"), b"#ours\n\xff\xfe").unwrap(),
            |e| matches!(e, OutputError::NotOurs { .. }),
        ),
        (
            "empty",
            |d, _| std::fs::write(d.join("a.json"), "").unwrap(),
            |e| matches!(e, OutputError::NotOurs { .. }),
        ),
        (
            "link to ours",
            |d, o| {
                std::fs::write(o.join("ours"), MARK).unwrap();
                std::os::unix::fs::symlink(o.join("ours"), d.join("a.json")).unwrap()
            },
            |e| matches!(e, OutputError::Symlink { path } if path.ends_with("a.json")),
        ),
        (
            "dangling link",
            |d, o| std::os::unix::fs::symlink(o.join("none"), d.join("b.json")).unwrap(),
            |e| matches!(e, OutputError::Symlink { .. }),
        ),
        (
            "folder",
            |d, _| std::fs::create_dir(d.join("a.json")).unwrap(),
            |e| matches!(e, OutputError::NotAFile { .. }),
        ),
        (
            "subfolder is a file",
            |d, _| std::fs::write(d.join("sub"), "x").unwrap(),
            |e| matches!(e, OutputError::NotAFolder { path } if path.ends_with("sub")),
        ),
        (
            "subfolder is a link",
            |d, o| std::os::unix::fs::symlink(o, d.join("sub")).unwrap(),
            |e| matches!(e, OutputError::Symlink { path } if path.ends_with("sub")),
        ),
    ];
    for (what, setup, expected) in cases {
        let dir = temp("refuse");
        std::fs::write(dir.join("mine.txt"), "the user's").unwrap();
        setup(&dir, &outside);
        let before = snapshot(&dir);
        let outside_before = snapshot(&outside);
        let e = write_folder(&dir, &files("v1"), ours).unwrap_err();
        assert!(expected(&e), "{what}: {e:?}");
        assert!(e.to_string().contains("nothing was written"), "{what}: {e}");
        assert_eq!(snapshot(&dir), before, "{what}: the folder changed");
        assert_eq!(
            snapshot(&outside),
            outside_before,
            "{what}: outside changed"
        );
        // The guard alone says the same.
        assert_eq!(
            check_folder(&dir, &files("v1"), ours).unwrap_err(),
            e,
            "{what}"
        );
    }
}

#[test]
fn a_file_that_is_not_utf8_is_never_ours_whatever_the_predicate_says() {
    let dir = temp("utf16");
    let utf16: Vec<u8> = "#ours\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::write(dir.join("a.json"), &utf16).unwrap();
    let e = write_folder(&dir, &files("v1"), |_, _| true).unwrap_err();
    assert!(matches!(e, OutputError::NotOurs { .. }), "{e:?}");
    assert_eq!(std::fs::read(dir.join("a.json")).unwrap(), utf16);
}

#[test]
fn bad_names_are_refused_and_nothing_is_created() {
    let dir = temp("names").join("not-yet");
    for name in [
        "../escape",
        "/abs",
        "a/../../b",
        "",
        "a\\b",
        "./a",
        "sub/",
        "nul\0",
    ] {
        let f = [OutputFile::text(name, MARK)];
        assert_eq!(
            write_folder(&dir, &f, ours),
            Err(OutputError::BadName { name: name.into() }),
            "{name:?}"
        );
    }
    assert!(!dir.exists());
}

#[test]
fn a_failure_partway_leaves_everything_as_it_was() {
    // The second file's temporary name is longer than a file name may be, so its creation
    // fails after the first file's temporary was written: nothing may be replaced, and this
    // run's temporaries and folders are removed.
    let parent = temp("partway");
    let dir = parent.join("created-by-the-run");
    let long = "x".repeat(240);
    let set = |v: &str| {
        vec![
            OutputFile::text("sub/a.json", format!("{MARK}{v}")),
            OutputFile::text(long.clone(), format!("{MARK}{v}")),
        ]
    };
    let e = write_folder(&dir, &set("v1"), ours).unwrap_err();
    assert!(
        matches!(
            &e,
            OutputError::Io {
                action: "create a temporary file",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!dir.exists(), "the folders this run created are removed");
    // Into an existing folder with an older file of ours: it keeps its old bytes.
    std::fs::create_dir_all(parent.join("sub")).unwrap();
    std::fs::write(parent.join("sub/a.json"), format!("{MARK}old")).unwrap();
    std::fs::write(parent.join("mine.txt"), "the user's").unwrap();
    let before = snapshot(&parent);
    let e = write_folder(&parent, &set("v2"), ours).unwrap_err();
    assert!(matches!(e, OutputError::Io { .. }), "{e:?}");
    assert_eq!(snapshot(&parent), before);
}

#[test]
fn a_fifo_at_a_target_is_refused_without_blocking() {
    let dir = temp("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("a.json"))
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: case not run");
        return;
    }
    let e = write_folder(&dir, &files("v1"), ours).unwrap_err();
    assert!(matches!(e, OutputError::NotAFile { .. }), "{e:?}");
}

#[test]
fn runs_in_parallel_all_succeed_and_readers_never_see_a_missing_or_partial_file() {
    let dir = temp("parallel");
    // Large enough that a non-atomic write would be seen half done.
    let body = |v: usize| format!("{MARK}{}", v.to_string().repeat(200_000));
    write_folder(&dir, &[OutputFile::text("big.json", body(0))], ours).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let text = std::fs::read_to_string(dir.join("big.json")).expect("always there");
                let digit = &text[MARK.len()..MARK.len() + 1];
                assert_eq!(
                    text,
                    format!("{MARK}{}", digit.repeat(200_000)),
                    "a whole file"
                );
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (1..=6)
        .map(|v| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    write_folder(&dir, &[OutputFile::text("big.json", body(v))], ours)
                        .expect("every run succeeds");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let left: Vec<_> = snapshot(&dir)
        .into_iter()
        .filter(|(p, _)| !p.ends_with("big.json"))
        .collect();
    assert!(left.is_empty(), "no temporaries left: {left:?}");
}

#[test]
fn compare_names_each_file_and_writes_nothing() {
    let dir = temp("compare");
    write_folder(&dir, &files("v1"), ours).unwrap();
    let same = compare_folder(&dir, &files("v1")).unwrap();
    assert!(same.identical());
    std::fs::remove_file(dir.join("sub/c.json")).unwrap();
    std::fs::write(dir.join("a.json"), "edited").unwrap();
    let before = snapshot(&dir);
    assert_eq!(
        compare_folder(&dir, &files("v1")).unwrap(),
        Comparison {
            same: vec!["b.json".into()],
            differ: vec!["a.json".into()],
            missing: vec!["sub/c.json".into()],
        }
    );
    assert_eq!(snapshot(&dir), before);
    let none = dir.join("none");
    assert_eq!(
        compare_folder(&none, &files("v1")),
        Err(OutputError::MissingFolder {
            path: none.display().to_string()
        })
    );
    let file = dir.join("b.json");
    assert!(matches!(
        compare_folder(&file, &files("v1")),
        Err(OutputError::NotAFolder { .. })
    ));
}
