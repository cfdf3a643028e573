//! The server's log written to standard error and to a file per day under
//! `scratch/logs/` (upstream's place for it), so an operator finds yesterday's lines
//! after a restart.

use std::io::Write;
use std::path::PathBuf;

use registry_core::time::Date;

/// A `tracing` writer: every line to standard error and, with a directory, appended
/// to `<dir>/<YYYY-MM-DD>.log` (the UTC date when the line is written).
pub struct DailyLog {
    dir: Option<PathBuf>,
}

impl DailyLog {
    pub fn new(dir: Option<PathBuf>) -> Self {
        if let Some(dir) = &dir
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            eprintln!(
                "warning: cannot create the log directory {}: {e}; logging to standard error only",
                dir.display()
            );
        }
        DailyLog { dir }
    }

    /// Today's file (UTC).
    pub fn file_for_today(dir: &std::path::Path) -> PathBuf {
        let days = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 86_400)
            .unwrap_or(0);
        dir.join(format!("{}.log", Date::from_days(i64::try_from(days).unwrap_or(0))))
    }
}

/// One line's writer: standard error, and the day's file when it could be opened.
pub struct Tee {
    file: Option<std::fs::File>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A full disk must not stop the server: the file is best effort.
        if let Some(file) = &mut self.file {
            let _ = file.write_all(buf);
        }
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for DailyLog {
    type Writer = Tee;

    fn make_writer(&'a self) -> Tee {
        let file = self.dir.as_deref().and_then(|dir| {
            std::fs::OpenOptions::new().create(true).append(true).open(Self::file_for_today(dir)).ok()
        });
        Tee { file }
    }
}
