//! The benchmark harness shared by `convkit bench` and the criterion benchmarks.
//!
//! - [`cases`]: the public benchmark cases of the brief (one table, so the CLI, the criterion
//!   benches and the docs cannot disagree) and their FLOP / element counts.
//! - [`shape`]: the `--shape n=1,c=64,...` spec parser for custom convolutions.
//! - [`workload`]: a prepared case (seeded random tensors, plan built once, thread pool,
//!   scratch) whose [`Workload::run`] is the timed call.
//! - [`timing`]: warm-up, then the median of enough repetitions, time-boxed.
//! - [`bandwidth`]: this machine's copy bandwidth, next to which pooling rows report the bytes
//!   they move.
//! - [`peak`]: this machine's FP32 FMA peak at 1 and N threads.
//! - [`report`]: one result row, its JSON line and the text table.
//! - [`peers`]: reference figures of other libraries (`peers-best.jsonl` format).
//! - [`chart`]: the SVG bar chart.

pub mod bandwidth;
pub mod cases;
pub mod chart;
pub mod peak;
pub mod peers;
pub mod report;
pub mod shape;
pub mod timing;
pub mod workload;

pub use bandwidth::{measure_copy, Bandwidth};
pub use cases::{public_cases, Case, CaseKind};
pub use peak::{measure_peak, Peak};
pub use report::BenchResult;
pub use shape::parse_shape;
pub use timing::{measure, Timing, TimingOptions};
pub use workload::Workload;
