//! A private PostgreSQL started from the server binaries installed on the machine, for tests and
//! `phoneless demo` when `DATABASE_URL` is unset (docs/design.md §5a).
//!
//! `initdb` refuses to run as root, so as root the data directory is given to the `postgres`
//! system user and the server runs as that user (`setpriv`, which execs in place so signals
//! reach the server). A small watchdog process stops the server when this process ends, however
//! it ends, so no test run leaves a server behind.

use anyhow::{Context, Result, bail};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How long `pg_ctl` may take to start or stop the server.
const PG_CTL_WAIT_SECS: &str = "60";

/// A running private PostgreSQL; stopped on drop.
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    run_as: Option<String>,
    /// The server's settings, and its log file (kept for [`EmbeddedPostgres::start`]).
    server_options: String,
    log: String,
    /// Present when the whole directory is temporary (removed on drop).
    _temp: Option<tempfile::TempDir>,
}

impl EmbeddedPostgres {
    /// Starts a throw-away server in a temporary directory. `durable = false` turns fsync off,
    /// which is right for tests and wrong for anything one wants to keep.
    pub fn start_temporary(durable: bool) -> Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix("phoneless-pg-")
            .tempdir()
            .context("could not create a temporary directory for PostgreSQL")?;
        let mut pg = Self::start_in(temp.path(), durable)?;
        pg._temp = Some(temp);
        Ok(pg)
    }

    /// Starts a server whose data lives in `dir` (created and initialised on first use).
    pub fn start_in(dir: &Path, durable: bool) -> Result<Self> {
        let bin_dir = find_bin_dir()?;
        let run_as = if running_as_root() {
            Some("postgres".to_owned())
        } else {
            None
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        if let Some(user) = &run_as {
            give_to(dir, user)?;
        }
        let data_dir = dir.join("data");
        let port = free_port()?;
        let mut server_options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB",
            path_str(dir)?
        );
        if !durable {
            server_options
                .push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let pg = EmbeddedPostgres {
            bin_dir,
            data_dir,
            port,
            run_as,
            server_options,
            log: path_str(&dir.join("postgres.log"))?,
            _temp: None,
        };
        if !pg.data_dir.join("PG_VERSION").exists() {
            pg.run(
                "initdb",
                &[
                    "-D",
                    &path_str(&pg.data_dir)?,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
            )?;
        }
        pg.start()?;
        pg.spawn_watchdog(dir);
        Ok(pg)
    }

    /// Starts the server (again, after [`EmbeddedPostgres::stop`]: same data, same port).
    pub fn start(&self) -> Result<()> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &path_str(&self.data_dir)?,
                "-l",
                &self.log,
                "-o",
                &self.server_options,
                "-w",
                "-t",
                PG_CTL_WAIT_SECS,
                "start",
            ],
        )
        .with_context(|| format!("PostgreSQL did not start; its log is {}", self.log))
    }

    /// The superuser URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server now (also done on drop); [`EmbeddedPostgres::start`] starts it again.
    pub fn stop(&self) {
        if let Ok(data) = path_str(&self.data_dir) {
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D",
                    &data,
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    PG_CTL_WAIT_SECS,
                    "stop",
                ],
            );
        }
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bin_dir.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={user}"))
                    .arg(format!("--regid={user}"))
                    .arg("--init-groups")
                    .arg("--")
                    .arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| {
                format!("could not run {program} (from {})", self.bin_dir.display())
            })?;
        if !out.status.success() {
            bail!(
                "{program} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
        Ok(())
    }

    /// A detached shell that waits for this process to end, then stops the server: a test
    /// binary's statics are never dropped, and a killed demo never runs its destructors.
    fn spawn_watchdog(&self, dir: &Path) {
        let Ok(data) = path_str(&self.data_dir) else {
            return;
        };
        let stop = {
            let mut c = self.command("pg_ctl");
            c.args(["-D", &data, "-m", "immediate", "stop"]);
            std::iter::once(c.get_program().to_string_lossy().into_owned())
                .chain(c.get_args().map(|a| a.to_string_lossy().into_owned()))
                .map(|a| shell_quote(&a))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let remove = if self._temp.is_some() || dir.starts_with(std::env::temp_dir()) {
            format!("; rm -rf {}", shell_quote(&dir.to_string_lossy()))
        } else {
            String::new()
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1{remove}",
            pid = std::process::id()
        );
        let spawned = {
            use std::os::unix::process::CommandExt as _;
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
        };
        if let Err(e) = spawned {
            tracing::warn!("could not start the PostgreSQL watchdog: {e}");
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn path_str(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .with_context(|| format!("path {} is not UTF-8", p.display()))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Whether this process runs as root (then PostgreSQL must run as another user).
pub fn running_as_root() -> bool {
    // The owner of /proc/self is this process's effective user.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: on PATH, else the newest
/// /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
fn find_bin_dir() -> Result<PathBuf> {
    let has_all = |d: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| d.join(b).is_file())
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                return Ok(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_all(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "no PostgreSQL server binaries found (initdb, pg_ctl and postgres on PATH or under \
             /usr/lib/postgresql/*/bin). Install them (Debian: apt-get install postgresql) or set \
             DATABASE_URL to a running server."
        ),
    }
}

/// Hands `dir` to a system user (as root, for a server that must not run as root).
fn give_to(dir: &Path, user: &str) -> Result<()> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("could not read /etc/passwd")?;
    let (uid, gid) = passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == user).then(|| Some((f[2].parse::<u32>().ok()?, f[3].parse::<u32>().ok()?)))?
        })
        .with_context(|| {
            format!("running as root, PostgreSQL must run as the '{user}' system user, which does not exist")
        })?;
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
        .with_context(|| format!("could not give {} to {user}", dir.display()))?;
    // The user must be able to reach the directory through its parents (a 0700 temp dir is fine
    // once it belongs to that user).
    Ok(())
}

/// A TCP port nobody listens on right now.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("no free local port")?;
    Ok(l.local_addr()?.port())
}
