//! Facet counts tantivy's facet collector does not give: numeric ranges (price, available
//! quantity), and areas at any level below a given one.
//!
//! tantivy's aggregation framework answers both too, but through JSON-shaped requests and results;
//! collectors of a few lines read the column directly and hand back plain counts.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, HasAssociatedColumnType};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// Counts the hits in each bucket `[bounds[i-1], bounds[i])`, with an open bucket below the first
/// bound and one from the last bound up: `n` sorted bounds make `n + 1` buckets. A hit without a
/// value is counted nowhere.
#[derive(Debug, Clone)]
pub(crate) struct RangeCounts<T> {
    field: String,
    bounds: Vec<T>,
}

impl<T> RangeCounts<T>
where
    T: Copy + PartialOrd,
{
    /// `bounds` are sorted here, so callers may pass them in any order.
    pub(crate) fn new(field: &str, mut bounds: Vec<T>) -> Self {
        bounds.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        Self {
            field: field.to_owned(),
            bounds,
        }
    }

    /// The bounds, sorted.
    pub(crate) fn bounds(&self) -> &[T] {
        &self.bounds
    }
}

impl<T> Collector for RangeCounts<T>
where
    T: HasAssociatedColumnType + Copy + PartialOrd + Send + Sync + 'static,
    tantivy::columnar::DynamicColumn: Into<Option<Column<T>>>,
{
    type Fruit = Vec<u64>;
    type Child = SegmentRangeCounts<T>;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(SegmentRangeCounts {
            column: segment.fast_fields().column_opt::<T>(&self.field)?,
            bounds: self.bounds.clone(),
            counts: vec![0; self.bounds.len() + 1],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segment_fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        let mut total = vec![0; self.bounds.len() + 1];
        for fruit in segment_fruits {
            for (sum, count) in total.iter_mut().zip(fruit) {
                *sum += count;
            }
        }
        Ok(total)
    }
}

/// One segment's share of [`RangeCounts`].
pub(crate) struct SegmentRangeCounts<T> {
    /// `None` when no document of the segment has the field (a segment of tombstones only).
    column: Option<Column<T>>,
    bounds: Vec<T>,
    counts: Vec<u64>,
}

impl<T: std::fmt::Debug> std::fmt::Debug for SegmentRangeCounts<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentRangeCounts")
            .field("bounds", &self.bounds)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<T> SegmentCollector for SegmentRangeCounts<T>
where
    T: HasAssociatedColumnType + Copy + PartialOrd + Send + Sync + 'static,
{
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(value) = self.column.as_ref().and_then(|column| column.first(doc)) else {
            return;
        };
        // The bucket is the number of bounds at or below the value.
        let bucket = self.bounds.partition_point(|bound| *bound <= value);
        if let Some(count) = self.counts.get_mut(bucket) {
            *count += 1;
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.counts
    }
}

/// Digits of a full division code (a village).
const CODE_DIGITS: u32 = 12;

/// Counts the hits by their village code cut at a level, among the villages under an area.
///
/// The facet collector only counts the children of a facet, one level down; the contract asks for
/// any level (counties under a province). The 12-digit code is a `u64` fast field, so cutting it
/// is a division: `110101001001 / 10^6` is the county `110101`.
#[derive(Debug, Clone)]
pub(crate) struct AreaCounts {
    field: String,
    /// The area's code as a number, and its digits (`110101`, 6; the country: 0, 0).
    under: u64,
    under_digits: u32,
    /// The digits of the level counted at.
    level_digits: u32,
}

impl AreaCounts {
    /// `under` is a normalized code prefix (digits only); `level_digits` one of 0, 2, 4, 6, 9, 12.
    /// A prefix that is not a number counts nothing.
    pub(crate) fn new(field: &str, under: &str, level_digits: u32) -> Self {
        let under_digits = u32::try_from(under.len())
            .unwrap_or(u32::MAX)
            .min(CODE_DIGITS);
        Self {
            field: field.to_owned(),
            under: if under.is_empty() {
                0
            } else {
                under.parse().unwrap_or(u64::MAX)
            },
            under_digits,
            level_digits: level_digits.min(CODE_DIGITS),
        }
    }

    /// The code prefix a counted key stands for, as digits (`110101`).
    pub(crate) fn code_of(&self, key: u64) -> String {
        match self.level_digits {
            0 => String::new(),
            digits => format!("{key:0width$}", width = digits as usize),
        }
    }
}

impl Collector for AreaCounts {
    type Fruit = HashMap<u64, u64>;
    type Child = SegmentAreaCounts;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(SegmentAreaCounts {
            column: segment.fast_fields().column_opt::<u64>(&self.field)?,
            under: self.under,
            under_divisor: 10u64.pow(CODE_DIGITS - self.under_digits),
            level_divisor: 10u64.pow(CODE_DIGITS - self.level_digits),
            counts: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        segment_fruits: Vec<HashMap<u64, u64>>,
    ) -> tantivy::Result<HashMap<u64, u64>> {
        let mut total = HashMap::new();
        for fruit in segment_fruits {
            for (key, count) in fruit {
                *total.entry(key).or_insert(0) += count;
            }
        }
        Ok(total)
    }
}

/// One segment's share of [`AreaCounts`].
pub(crate) struct SegmentAreaCounts {
    column: Option<Column<u64>>,
    under: u64,
    under_divisor: u64,
    level_divisor: u64,
    counts: HashMap<u64, u64>,
}

impl std::fmt::Debug for SegmentAreaCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentAreaCounts")
            .field("under", &self.under)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl SegmentCollector for SegmentAreaCounts {
    type Fruit = HashMap<u64, u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(code) = self.column.as_ref().and_then(|column| column.first(doc)) else {
            return;
        };
        if code / self.under_divisor == self.under {
            *self.counts.entry(code / self.level_divisor).or_insert(0) += 1;
        }
    }

    fn harvest(self) -> HashMap<u64, u64> {
        self.counts
    }
}
