//! Progress of a run: a bar on stderr when it is a terminal (`indicatif`), plain lines
//! otherwise, nothing from the library's [`super::run`].

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Receives the run's progress: the number of tasks, then one call per finished task.
pub trait Progress {
    /// The run has `total` tasks.
    fn begin(&mut self, total: usize);
    /// A task finished.
    fn advance(&mut self, task: &str);
    /// The run is over.
    fn finish(&mut self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&mut self, _total: usize) {}
    fn advance(&mut self, _task: &str) {}
}

/// A progress bar on stderr, or `[k/n] task` lines when stderr is not a terminal.
#[derive(Debug, Default)]
pub struct Stderr {
    bar: Option<ProgressBar>,
    done: usize,
    total: usize,
}

impl Progress for Stderr {
    fn begin(&mut self, total: usize) {
        self.total = total;
        if std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {msg}")
            {
                bar.set_style(style);
            }
            self.bar = Some(bar);
        }
    }
    fn advance(&mut self, task: &str) {
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.set_message(task.to_string());
                bar.inc(1);
            }
            None => eprintln!("[{}/{}] {task}", self.done, self.total),
        }
    }
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
