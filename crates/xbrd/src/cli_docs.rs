//! `xbrd completions` and `xbrd man`: shell completion scripts and man pages generated from the
//! clap definition in [`crate::cli`] (so they never drift from the commands).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "xbrd", out);
}

/// Writes the top-level man page (`xbrd(1)`, roff) to `out`.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// Writes `xbrd.1` and one `xbrd-<command>.1` per subcommand (nested ones too) into `dir`,
/// returning the files written.
pub fn man_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, dir, &mut written)?;
    Ok(written)
}

fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let mut file = std::fs::File::create(&path)?;
    man.render(&mut file)?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_has_the_roff_sections_and_every_subcommand() {
        let mut out = Vec::new();
        man_page(&mut out).unwrap();
        let roff = String::from_utf8(out).unwrap();
        assert!(
            roff.starts_with(".ie") || roff.contains(".TH xbrd 1"),
            "{roff}"
        );
        for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
            assert!(roff.contains(section), "{section}");
        }
        for sub in Cli::command().get_subcommands() {
            assert!(roff.contains(sub.get_name()), "{}", sub.get_name());
        }
    }

    #[test]
    fn every_subcommand_gets_a_page() {
        let dir = tempfile::tempdir().unwrap();
        let pages = man_pages(dir.path()).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "xbrd.1",
            "xbrd-run.1",
            "xbrd-config-check.1",
            "xbrd-chain-deploy.1",
            "xbrd-backup.1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
    }
}
