//! The registry's benchmarks. They print figures; they are not tests. The `registry`
//! binary offers them as `registry bench …` only when built with `--features bench`,
//! so a production build carries neither them nor the source generator they use
//! (`registry-workload`).

pub mod api;
mod generated;
pub mod matrix;
mod matrix_floor;
pub mod package_sets;
pub mod workers;

/// `registry bench <command>`.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Requests/s and latency of `GET /api/v1/jobs/{id}` on loopback while jobs run.
    Api(api::BenchArgs),
    /// Package-set jobs: wipe vs keep-output vs the build engine, on real transitions.
    PackageSets(package_sets::BenchArgs),
    /// A new compiler's flood of matrix jobs: upstream vs the build engine vs the minimum.
    Matrix(matrix::BenchArgs),
    /// Matrix floods drained by 1, 2, … workers sharing Postgres and one registry repository.
    Workers(workers::BenchArgs),
}

pub fn run(command: &BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Api(args) => api::run(args),
        BenchCommand::PackageSets(args) => package_sets::run(args),
        BenchCommand::Matrix(args) => matrix::run(args),
        BenchCommand::Workers(args) => workers::run(args),
    }
}
