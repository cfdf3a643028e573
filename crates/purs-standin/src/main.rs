//! `purs-standin`: install it (symlink or copy) as `purs` or `purs-X_Y_Z`.

use std::io::Write;
use std::time::Duration;

use purs_standin::commands::{Env, Streams};

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_default();
    let args: Vec<String> = args.collect();
    let stderr = std::io::stderr();
    let env_version = std::env::var("PURS_STANDIN_VERSION").ok();
    let compiler = match purs_standin::version_to_play(&program, env_version.as_deref()) {
        Ok(version) => version,
        Err(why) => {
            let _ = writeln!(stderr.lock(), "{why}");
            return 1;
        }
    };
    let delay = match std::env::var("PURS_STANDIN_DELAY_MS") {
        Err(_) => Duration::ZERO,
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => {
                let _ = writeln!(
                    stderr.lock(),
                    "purs-standin: PURS_STANDIN_DELAY_MS must be a whole number of milliseconds, got {text:?}"
                );
                return 1;
            }
        },
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            let _ = writeln!(stderr.lock(), "purs: cannot read the current directory: {e}");
            return 1;
        }
    };
    let env = Env { compiler, cwd, delay };
    let stdout = std::io::stdout();
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    let result = purs_standin::cli::run(&args, &env, &mut Streams { out: &mut out, err: &mut err });
    let _ = out.flush();
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "purs: {e}");
            1
        }
    }
}
