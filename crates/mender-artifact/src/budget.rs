//! [`ParseLimits`]: how much work one artifact may cause, beyond the per-member size caps.
//! Payloads are streamed through decompression and SHA-256 and never stored, so their size
//! after decompression is bounded only by what the compressed bytes can expand to: a few
//! megabytes of zstd can stand for terabytes of zeros. The parser therefore keeps a budget of
//! decompressed payload bytes that grows with the artifact bytes read, and a budget of time
//! spent working (time spent waiting for the upload to deliver bytes is not counted, so a
//! slow link never fails a good artifact).

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::Error;

/// Limits on the work of parsing one artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Decompressed payload bytes may be at most this many times the artifact bytes read so
    /// far (plus [`decompression_allowance`](Self::decompression_allowance)).
    pub max_decompression_ratio: u64,
    /// Decompressed payload bytes always allowed, whatever the ratio.
    pub decompression_allowance: u64,
    /// Longest time the parser may spend working on one artifact (`None`: no limit).
    pub max_parse_time: Option<Duration>,
}

impl Default for ParseLimits {
    /// 1000:1 plus 1 GiB (gzip cannot exceed about 1032:1; a mostly empty filesystem image
    /// under xz or zstd stays well below once its data has been read), and 30 minutes.
    fn default() -> Self {
        Self {
            max_decompression_ratio: 1000,
            decompression_allowance: 1 << 30,
            max_parse_time: Some(Duration::from_secs(30 * 60)),
        }
    }
}

impl ParseLimits {
    /// No limits at all (tools reading trusted artifacts).
    pub fn unlimited() -> Self {
        Self {
            max_decompression_ratio: u64::MAX,
            decompression_allowance: u64::MAX,
            max_parse_time: None,
        }
    }
}

/// The running account of one parse, shared by the reader of the caller's input (bytes
/// read, time waited) and the readers of decompressed payloads (bytes produced).
#[derive(Debug)]
pub(crate) struct Budget {
    limits: ParseLimits,
    start: Instant,
    waited: Cell<Duration>,
    read: Cell<u64>,
    inflated: Cell<u64>,
}

impl Budget {
    pub(crate) fn new(limits: ParseLimits) -> Rc<Self> {
        Rc::new(Self {
            limits,
            start: Instant::now(),
            waited: Cell::new(Duration::ZERO),
            read: Cell::new(0),
            inflated: Cell::new(0),
        })
    }

    /// Records `n` artifact bytes that took `waited` to arrive.
    pub(crate) fn input(&self, n: usize, waited: Duration) {
        self.read.set(self.read.get().saturating_add(n as u64));
        self.waited.set(self.waited.get().saturating_add(waited));
    }

    /// Records `n` decompressed payload bytes of `member` and checks both budgets.
    fn inflate(&self, n: usize, member: &str) -> Result<(), Error> {
        let inflated = self.inflated.get().saturating_add(n as u64);
        self.inflated.set(inflated);
        let allowed = self
            .read
            .get()
            .saturating_mul(self.limits.max_decompression_ratio)
            .saturating_add(self.limits.decompression_allowance);
        if inflated > allowed {
            return Err(Error::DecompressionBudget {
                file: member.to_owned(),
                ratio: self.limits.max_decompression_ratio,
            });
        }
        self.check_time()
    }

    /// Fails once the time spent working exceeds the limit.
    pub(crate) fn check_time(&self) -> Result<(), Error> {
        let Some(max) = self.limits.max_parse_time else {
            return Ok(());
        };
        let working = self.start.elapsed().saturating_sub(self.waited.get());
        if working > max {
            return Err(Error::ParseTime {
                seconds: max.as_secs_f64(),
            });
        }
        Ok(())
    }
}

/// Charges what a payload decoder produces to the budget.
pub(crate) struct BudgetReader<'b, R> {
    inner: R,
    budget: &'b Budget,
    member: &'b str,
}

impl<'b, R> BudgetReader<'b, R> {
    pub(crate) fn new(inner: R, budget: &'b Budget, member: &'b str) -> Self {
        Self {
            inner,
            budget,
            member,
        }
    }
}

impl<R: Read> Read for BudgetReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget
            .inflate(n, self.member)
            .map_err(Error::into_io)?;
        Ok(n)
    }
}
