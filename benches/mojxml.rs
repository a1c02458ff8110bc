//! Parsing the Ministry of Justice's cadastral map XML: MB/s over each sample file in
//! `../shared/data/moj-xml` (path: `MACHIZU_SAMPLE_DATA`), read into memory first so that
//! only the parser is timed (points, curves, ring chaining, parcels).
//!
//! Run: `cargo bench --bench mojxml` (target: at least 50 MB/s).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use machizu::import::mojxml::parse;

fn main() {
    let root = std::env::var_os("MACHIZU_SAMPLE_DATA").map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from);
    let dir = root.join("moj-xml");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("\n*** SKIPPED: sample data {} is missing; set MACHIZU_SAMPLE_DATA ***\n", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    let mut c = Criterion::default().configure_from_args().warm_up_time(Duration::from_secs(1));
    let mut group = c.benchmark_group("mojxml_parse");
    for path in files {
        let xml = std::fs::read(&path).expect("readable sample");
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        group.throughput(Throughput::Bytes(xml.len() as u64));
        group.bench_function(name, |b| b.iter(|| black_box(parse(&xml[..]).expect("parses"))));
    }
    group.finish();
    c.final_summary();
}
