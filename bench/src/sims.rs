//! The platforms' side of `bench pipeline` in a child process of its own.
//!
//! The simulators hold every message they will send (about 0.9 GiB for a million), so in the
//! benchmark's own process they would hide chatvault's memory in the peak RSS. The child
//! (this binary again, `chatvault bench pipeline` with [`SIMS_ONLY_ENV`] set) starts them,
//! prints the connectors' config sections on stdout, then an end line and its resident MiB,
//! and serves until its stdin closes; it then prints its peak and exits. Closing stdin is also
//! what stops it when the benchmark fails or is interrupted, so no simulator outlives it.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::BenchError;
use crate::util::{peak_rss_mib, rss_mib, runtime};

/// Set (to anything) in the child that runs the simulators.
pub const SIMS_ONLY_ENV: &str = "CHATVAULT_BENCH_SIMS_ONLY";
/// Ends the config sections on the child's stdout; its resident MiB follow on the same line.
const END: &str = "# end of connector sections; simulators' resident MiB:";
/// Starts the child's last line, after its stdin closed.
const PEAK: &str = "# simulators' peak resident MiB:";

/// Whether this process is the simulators' child.
pub fn is_child() -> bool {
    std::env::var_os(SIMS_ONLY_ENV).is_some()
}

/// Child side: starts the simulators of `args`, prints their sections and [`END`], and serves
/// until stdin closes.
pub fn serve(args: &crate::BenchArgs) -> Result<(), BenchError> {
    let rt = runtime()?;
    let (sims, sections) = rt.block_on(super::pipeline::start_sims(args, args.n))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{sections}\n{END} {:.0}", rss_mib())?;
    out.flush()?;
    // Blocks this thread only: the runtime's workers keep serving the connectors.
    std::io::stdin().lock().read_to_end(&mut Vec::new())?;
    drop(sims);
    drop(rt);
    writeln!(out, "{PEAK} {:.0}", peak_rss_mib())?;
    Ok(())
}

/// The simulators' child, started and ready.
pub struct SimsProcess {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// The connectors' config sections pointing at the child's simulators.
    pub sections: String,
    /// Resident MiB of the child once its messages were built.
    pub rss_mib: f64,
}

impl SimsProcess {
    /// Starts the child for `args` and waits until its simulators listen.
    pub fn spawn(args: &crate::BenchArgs) -> Result<Self, BenchError> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "bench",
                "pipeline",
                "--n",
                &args.n.to_string(),
                "--connectors",
                &args.connectors.join(","),
                "--push-items",
                &args.push_items.to_string(),
                "--pushes-in-flight",
                &args.pushes_in_flight.to_string(),
                "--goofish-numbering",
                &args.goofish_numbering,
            ])
            .env(SIMS_ONLY_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut sections = String::new();
        let rss_mib = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line)? == 0 {
                let status = child.wait()?;
                return Err(BenchError::Failed(format!(
                    "the simulators' process ended before it was ready ({status})"
                )));
            }
            match line.trim_end().strip_prefix(END) {
                Some(rss) => break rss.trim().parse().unwrap_or(0.0),
                None => sections.push_str(&line),
            }
        };
        Ok(SimsProcess {
            child,
            stdout,
            sections,
            rss_mib,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the simulators and returns the child's peak resident MiB.
    pub fn finish(mut self) -> Result<f64, BenchError> {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest)?;
        let status = self.child.wait()?;
        if !status.success() {
            return Err(BenchError::Failed(format!("the simulators' process failed ({status})")));
        }
        Ok(rest
            .lines()
            .find_map(|l| l.strip_prefix(PEAK))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0))
    }
}
