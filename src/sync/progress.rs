//! Progress of a running sync: a progress bar on a terminal, plain lines otherwise, nothing
//! in the background syncer.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal as _;
use std::sync::Mutex;

/// Told about each page as it arrives. Every method has a silent default.
pub trait Progress: Send + Sync {
    /// `pages` pages of `/users` so far hold `users` users; `total` once Graph has said
    /// (`@odata.count`).
    fn directory_page(&self, _pages: u32, _users: usize, _total: Option<u64>) {}
    /// `pages` pages of the registration report so far hold `rows` users.
    fn report_page(&self, _pages: u32, _rows: usize) {}
    /// The directory is complete; users are being classified and stored.
    fn storing(&self) {}
}

/// No display (the background syncer, tests).
pub struct Silent;
impl Progress for Silent {}

/// `phoneless sync`'s display on standard error.
pub enum Console {
    Bars {
        _multi: MultiProgress,
        directory: ProgressBar,
        report: ProgressBar,
    },
    Lines {
        last_line: Mutex<String>,
    },
}

impl Console {
    pub fn new() -> Console {
        if !std::io::stderr().is_terminal() {
            return Console::Lines {
                last_line: Mutex::new(String::new()),
            };
        }
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos:>7}/{len:7} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = |prefix: &'static str| {
            // No length until Graph says how many users there are (@odata.count).
            let b = multi.add(ProgressBar::no_length());
            b.set_style(style.clone());
            b.set_prefix(prefix);
            b
        };
        let directory = bar("directory users");
        let report = bar("registration details");
        Console::Bars {
            _multi: multi,
            directory,
            report,
        }
    }

    fn line(&self, text: String) {
        if let Console::Lines { last_line } = self {
            let mut last = last_line.lock().unwrap_or_else(|p| p.into_inner());
            if *last != text {
                eprintln!("{text}");
                *last = text;
            }
        }
    }

    /// Clears the bars before the summary is printed.
    pub fn finish(&self) {
        if let Console::Bars {
            directory, report, ..
        } = self
        {
            directory.finish_and_clear();
            report.finish_and_clear();
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

impl Progress for Console {
    fn directory_page(&self, pages: u32, users: usize, total: Option<u64>) {
        match self {
            Console::Bars {
                directory, report, ..
            } => {
                if let Some(t) = total {
                    directory.set_length(t);
                    // The report lists (about) the same people: the directory's count is a fair
                    // length for its bar too.
                    if report.length().is_none() {
                        report.set_length(t.max(report.position()));
                    }
                }
                directory.set_position(users as u64);
                directory.set_message(format!("{pages} pages"));
            }
            Console::Lines { .. } => self.line(match total {
                Some(t) => format!("directory: {pages} pages, {users} of {t} users"),
                None => format!("directory: {pages} pages, {users} users"),
            }),
        }
    }

    fn report_page(&self, pages: u32, rows: usize) {
        match self {
            Console::Bars { report, .. } => {
                if report.length().is_some_and(|l| (rows as u64) > l) {
                    report.set_length(rows as u64);
                }
                report.set_position(rows as u64);
                report.set_message(format!("{pages} pages"));
            }
            Console::Lines { .. } => {
                self.line(format!("registration details: {pages} pages, {rows} users"))
            }
        }
    }

    fn storing(&self) {
        match self {
            Console::Bars { directory, .. } => directory.set_message("complete"),
            Console::Lines { .. } => {
                self.line("directory complete; classifying and storing".to_owned())
            }
        }
    }
}
