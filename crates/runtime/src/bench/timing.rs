//! Warm-up, then the median of enough repetitions.

use std::time::{Duration, Instant};

/// How long to measure one case.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimingOptions {
    /// Keep repeating until this much time has been measured (after warm-up)...
    pub min_time: Duration,
    /// ...and at least this many repetitions, unless they would take more than
    /// `max_time`.
    pub min_reps: usize,
    /// Stop adding repetitions for `min_reps` once this much time has been measured (slow
    /// paths such as the reference on big cases); at least 3 are always taken.
    pub max_time: Duration,
}

impl TimingOptions {
    /// `min_time` seconds per case, at least 10 repetitions unless they take over
    /// `max(5·min_time, 2 s)`.
    pub fn with_min_time(seconds: f64) -> TimingOptions {
        let min_time = Duration::from_secs_f64(seconds.max(0.0));
        TimingOptions {
            min_time,
            min_reps: 10,
            max_time: (min_time * 5).max(Duration::from_secs(2)),
        }
    }
}

impl Default for TimingOptions {
    fn default() -> Self {
        TimingOptions::with_min_time(0.3)
    }
}

/// Result of timing one call repeatedly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Median seconds per call.
    pub median_s: f64,
    /// Fastest call, seconds.
    pub min_s: f64,
    /// Repetitions measured (warm-up excluded).
    pub reps: usize,
}

/// Times `f`: warm-up for about a fifth of `min_time` (at least one call), then individual
/// calls until the budget of [`TimingOptions`] is met; returns the median. The first error
/// from `f` stops the measurement.
pub fn measure<E>(opts: TimingOptions, mut f: impl FnMut() -> Result<(), E>) -> Result<Timing, E> {
    let warm = opts.min_time / 5;
    let start = Instant::now();
    loop {
        f()?;
        if start.elapsed() >= warm {
            break;
        }
    }
    let mut samples = Vec::new();
    let mut total = Duration::ZERO;
    loop {
        let t = Instant::now();
        f()?;
        let dt = t.elapsed();
        samples.push(dt.as_secs_f64());
        total += dt;
        let n = samples.len();
        let enough_time = total >= opts.min_time;
        let enough_reps = n >= opts.min_reps || (n >= 3 && total >= opts.max_time);
        if enough_time && enough_reps {
            break;
        }
    }
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let median_s = if n % 2 == 1 {
        samples[n / 2]
    } else {
        0.5 * (samples[n / 2 - 1] + samples[n / 2])
    };
    Ok(Timing {
        median_s,
        min_s: samples[0],
        reps: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_at_least_min_reps_and_reports_the_median() {
        let mut calls = 0;
        let t = measure::<()>(TimingOptions::with_min_time(0.0), || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(t.reps, 10);
        assert_eq!(calls, 11); // one warm-up call
        assert!(t.min_s <= t.median_s);
    }

    #[test]
    fn stops_on_error() {
        let r = measure(TimingOptions::default(), || Err::<(), _>("boom"));
        assert_eq!(r, Err("boom"));
    }
}
