//! Range facet counts over a numeric fast field (price, available quantity).
//!
//! tantivy's aggregation framework answers this too, but through JSON-shaped requests and results;
//! a collector of a few lines reads the column directly and hands back plain counts.

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
