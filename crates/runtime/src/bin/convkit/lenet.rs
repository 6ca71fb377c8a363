//! Placeholder for the LeNet commands (the runtime issue provides the real file).

use anyhow::bail;

/// LeNet commands.
#[derive(Debug, clap::Subcommand)]
pub enum LenetCommand {
    /// placeholder
    Eval,
}

/// Runs a LeNet command.
pub fn run(cmd: LenetCommand) -> anyhow::Result<()> {
    match cmd {
        LenetCommand::Eval => {
            bail!(
                "the LeNet commands come with the runtime issue; this build does not have them yet"
            )
        }
    }
}
