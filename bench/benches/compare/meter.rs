//! Timing and allocation counting, and the interleaved rounds: every row
//! runs once per round, rows rotated each round, so drift (frequency,
//! caches, the neighbour's load) falls on all rows alike and each ratio
//! pairs two runs of the same round.

use std::time::{Duration, Instant};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// What one measured run saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub time: Duration,
    /// Allocations and reallocations.
    pub allocs: usize,
    /// Bytes requested by them.
    pub bytes: usize,
}

/// Handed to a row: the row prepares its input outside, and wraps only
/// the work being compared in [`Meter::run`].
#[derive(Default)]
pub struct Meter {
    sample: Option<Sample>,
}

impl Meter {
    pub fn run<T>(&mut self, work: impl FnOnce() -> T) -> T {
        let region = Region::new(GLOBAL);
        let start = Instant::now();
        let out = std::hint::black_box(work());
        let time = start.elapsed();
        let change = region.change();
        self.sample =
            Some(Sample { time, allocs: change.allocations + change.reallocations, bytes: change.bytes_allocated });
        out
    }
}

/// Heap bytes left allocated once `build` returns (allocated minus freed
/// while it ran: what the value it built, or what it grew, holds), and
/// the value.
pub fn retained<T>(build: impl FnOnce() -> T) -> (isize, T) {
    let region = Region::new(GLOBAL);
    let value = build();
    let change = region.change();
    let net = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    (net, value)
}

/// A row: a name, the group whose baseline it is compared with, and the
/// run itself, which returns the units it produced (stanzas, tokens) so
/// the table can check every row did the whole job.
pub struct Row<'a> {
    pub group: &'static str,
    pub name: String,
    pub run: Box<dyn FnMut(&mut Meter) -> usize + 'a>,
}

/// Runs every row `rounds` times, rotated; returns each row's samples in
/// round order and the units of its last run.
pub fn rounds(rows: &mut [Row<'_>], rounds: usize) -> Vec<(Vec<Sample>, usize)> {
    let mut results: Vec<(Vec<Sample>, usize)> = rows.iter().map(|_| (Vec::new(), 0)).collect();
    // One untimed warm-up of each row.
    for row in rows.iter_mut() {
        (row.run)(&mut Meter::default());
    }
    for round in 0..rounds {
        for k in 0..rows.len() {
            let i = (k + round) % rows.len();
            let mut meter = Meter::default();
            let units = (rows[i].run)(&mut meter);
            let sample = meter.sample.unwrap_or_else(|| panic!("row {} never called Meter::run", rows[i].name));
            results[i].0.push(sample);
            results[i].1 = units;
        }
    }
    results
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}
