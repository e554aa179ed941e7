//! `xbrd backup` and `xbrd restore`: the store copied with SQLite's online backup API, and a
//! backup checked (integrity, schema, the role's money-path invariants) before it replaces the
//! store.
//!
//! A backup is one consistent snapshot: the whole database is copied in one backup step, inside
//! one read transaction, so it is safe while the daemon writes (WAL: the daemon is not blocked)
//! and never mixes two states. The file is self-contained (rollback journal, no `-wal`) and
//! mode 0600. The key files are not in it: back them up apart (the seller's data keys are
//! encrypted under a key derived from its Ethereum key).
//!
//! Restore, with the daemon stopped: the backup is copied beside the store, opened as the daemon
//! opens it (migrated to this binary's schema; a backup from a newer binary is refused), checked,
//! and renamed over the store; the replaced store is kept as `<store>.before-restore-<unix time>`.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use xbr_market::SqliteStore;

use crate::cli::{BackupArgs, RestoreArgs};
use crate::config;
use crate::health::invariants::{InvariantChecker, InvariantsView};
use crate::roles::Stores;

/// What `xbrd backup` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The store backed up.
    pub store: PathBuf,
    /// The backup file.
    pub file: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its schema version (`PRAGMA user_version`, the number of migrations applied).
    pub schema_version: i64,
}

/// What `xbrd restore` checked and did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The backup.
    pub from: PathBuf,
    /// The store (replaced unless `check_only`).
    pub store: PathBuf,
    /// Schema version of the backup as found.
    pub backup_schema_version: i64,
    /// Schema version after opening with this binary (migrations applied).
    pub schema_version: i64,
    /// The role's invariants over the backup's records (none violated, or the restore is refused).
    pub invariants: InvariantsView,
    /// Nothing was changed (`--check`).
    pub check_only: bool,
    /// Where the replaced store was moved, if there was one.
    pub replaced_store_kept_at: Option<PathBuf>,
}

/// `xbrd backup -c CONFIG --out FILE`.
pub fn backup(args: &BackupArgs) -> anyhow::Result<BackupReport> {
    let location = config::locate_store(&args.config)?;
    backup_file(&location.store.path, &args.out)
}

/// Backs up the database at `store` into the new file `out` (see the module docs).
pub fn backup_file(store: &Path, out: &Path) -> anyhow::Result<BackupReport> {
    if out.exists() {
        bail!("{} exists: give a new file name", out.display());
    }
    let src = Connection::open_with_flags(
        store,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open the store {}", store.display()))?;
    src.busy_timeout(Duration::from_secs(5))?;
    let partial = sibling(out, "partial");
    let _ = std::fs::remove_file(&partial);
    private_file(&partial)?;
    let result = copy_database(&src, &partial).and_then(|_| finish_file(&partial, out));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let schema_version = result?;
    Ok(BackupReport {
        store: store.to_owned(),
        file: out.to_owned(),
        bytes: std::fs::metadata(out)?.len(),
        schema_version,
    })
}

/// `xbrd restore -c CONFIG --from FILE [--check]`.
pub async fn restore(args: &RestoreArgs) -> anyhow::Result<RestoreReport> {
    let location = config::locate_store(&args.config)?;
    let store_path = location.store.path.clone();
    if !args.check && daemon_answers(location.admin_listen).await {
        bail!(
            "a daemon answers at admin.listen = {}: stop it before restoring its store",
            location.admin_listen
        );
    }
    let staged = sibling(&store_path, "restoring");
    let _ = std::fs::remove_file(&staged);
    if let Some(dir) = store_path.parent() {
        // As `xbrd run` makes its state directory: the owner's only.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Staged beside the store (same file system: the final rename is atomic); removed again on
    // any failure.
    let staged_result = stage(&args.from, &staged, location.role).await;
    let (backup_schema_version, schema_version, invariants) = match staged_result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    let mut report = RestoreReport {
        from: args.from.clone(),
        store: store_path.clone(),
        backup_schema_version,
        schema_version,
        invariants,
        check_only: args.check,
        replaced_store_kept_at: None,
    };
    if args.check {
        std::fs::remove_file(&staged)?;
        return Ok(report);
    }
    if store_path.exists() {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let kept = sibling(&store_path, &format!("before-restore-{secs}"));
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", store_path.display()));
            if from.exists() {
                let to = PathBuf::from(format!("{}{suffix}", kept.display()));
                std::fs::rename(&from, &to)
                    .with_context(|| format!("cannot move {} aside", from.display()))?;
            }
        }
        report.replaced_store_kept_at = Some(kept);
    }
    std::fs::rename(&staged, &store_path)
        .with_context(|| format!("cannot put the backup in place at {}", store_path.display()))?;
    sync_dir(&store_path)?;
    Ok(report)
}

/// Copies the backup `from` to `staged` and checks the copy ([`check_staged`]); returns the
/// backup's schema version, the one after opening, and the invariants.
async fn stage(
    from: &Path,
    staged: &Path,
    role: config::Role,
) -> anyhow::Result<(i64, i64, InvariantsView)> {
    let (src_path, dst) = (from.to_owned(), staged.to_owned());
    let backup_schema_version = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
        let src = Connection::open_with_flags(&src_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open the backup {}", src_path.display()))?;
        private_file(&dst)?;
        copy_database(&src, &dst)
            .with_context(|| format!("{} is not a usable backup", src_path.display()))
    })
    .await??;
    let (schema_version, invariants) = check_staged(staged, role).await?;
    Ok((backup_schema_version, schema_version, invariants))
}

/// Opens the staged copy as the daemon would (migrating it), checks its integrity and the role's
/// invariants, and closes it again.
async fn check_staged(staged: &Path, role: config::Role) -> anyhow::Result<(i64, InvariantsView)> {
    let path = staged.to_owned();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await?
        .with_context(|| {
            format!(
                "the backup does not open as a store of this xbrd version ({})",
                env!("CARGO_PKG_VERSION")
            )
        })?;
    let schema_version = store.schema_version()?;
    let store = Arc::new(store);
    let checker = InvariantChecker::new(role, Stores::of(store.clone()));
    let invariants = checker
        .check()
        .await
        .map_err(|e| anyhow::anyhow!("cannot check the backup's invariants: {e}"))?;
    drop(checker);
    drop(store);
    let path = staged.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let conn = Connection::open(&path)?;
        integrity_check(&conn)?;
        // A single file again: no WAL to carry along with the rename.
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))?;
        Ok(())
    })
    .await??;
    if !invariants.violations.is_empty() {
        let list: Vec<&str> = invariants
            .violations
            .iter()
            .map(|v| v.message.as_str())
            .collect();
        bail!(
            "the backup violates the {role}'s money-path invariants: {}",
            list.join("; ")
        );
    }
    Ok((schema_version, invariants))
}

/// Copies the whole database of `src` into the file `dst` in one backup step (one snapshot),
/// checks the copy's integrity and makes it self-contained; returns its schema version.
/// How long a backup step waits for a store that another connection keeps locked.
const BUSY_LIMIT: Duration = Duration::from_secs(30);

fn copy_database(src: &Connection, dst: &Path) -> anyhow::Result<i64> {
    let mut out = Connection::open(dst)?;
    {
        let backup = Backup::new(src, &mut out)?;
        // A writer holds its lock for one transaction (milliseconds); a lock held this long is
        // not a moment's contention, so give up with an error rather than wait forever.
        let give_up = std::time::Instant::now() + BUSY_LIMIT;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                // Another connection holds a lock for a moment: try again shortly.
                StepResult::Busy | StepResult::Locked => {
                    if std::time::Instant::now() >= give_up {
                        anyhow::bail!(
                            "the store stayed locked for {BUSY_LIMIT:?}; is another process holding it?"
                        );
                    }
                    std::thread::sleep(Duration::from_millis(50))
                }
                other => bail!("backup step failed: {other:?}"),
            }
        }
    }
    integrity_check(&out)?;
    out.pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))?;
    let version = out.pragma_query_value(None, "user_version", |r| r.get(0))?;
    out.close().map_err(|(_, e)| e)?;
    Ok(version)
}

fn integrity_check(conn: &Connection) -> anyhow::Result<()> {
    let result: String = conn.pragma_query_value(None, "integrity_check", |r| r.get(0))?;
    if result != "ok" {
        bail!("integrity check failed: {result}");
    }
    Ok(())
}

/// Syncs `partial` and renames it to `out`; returns the schema version read back from `out`.
fn finish_file(partial: &Path, out: &Path) -> anyhow::Result<i64> {
    std::fs::File::open(partial)?.sync_all()?;
    std::fs::rename(partial, out).with_context(|| format!("cannot write {}", out.display()))?;
    sync_dir(out)?;
    let conn = Connection::open_with_flags(out, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Creates `path` empty with mode 0600 (the store holds wrapped keys and payment records).
fn private_file(path: &Path) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(())
}

/// `path` with `.suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Does something answer on the daemon's admin address?
async fn daemon_answers(admin: std::net::SocketAddr) -> bool {
    let addr = if admin.ip().is_unspecified() {
        std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), admin.port())
    } else {
        admin
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_is_a_private_self_contained_copy() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("xbrd.sqlite");
        let live = SqliteStore::open(&store).unwrap();
        let out = dir.path().join("backup.sqlite");
        let report = backup_file(&store, &out).unwrap();
        assert_eq!(report.schema_version, live.schema_version().unwrap());
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!sibling(&out, "partial").exists());
        assert!(!PathBuf::from(format!("{}-wal", out.display())).exists());
        // An existing file is never overwritten.
        assert!(backup_file(&store, &out).is_err());
        // A missing store is not created.
        let missing = dir.path().join("none.sqlite");
        assert!(backup_file(&missing, &dir.path().join("b2")).is_err());
        assert!(!missing.exists());
    }
}
