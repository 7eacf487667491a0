//! A model of one training step on a cluster of P machines, for the bench
//! presets M, B and L: compute of B/P rows plus the exchanges of
//! `backprop::dist` (bytes from [`backprop::dist::traffic`]) over links of
//! 10, 25 and 100 Gbit/s with a per-message latency.
//!
//! ```sh
//! cargo run --release --example cluster_model -- M=98229 B=107664 L=9283
//! ```
//!
//! The arguments are each preset's samples/s on one machine (e.g. from
//! `backprop bench --config L --threads N --json`); the defaults are this
//! project's 2-thread figures. Each rank runs one shard of B/P rows
//! (`--shard-rows B/P`, so the model file is the one-process model with
//! those shards); its compute time is (B/P)/rate, which flatters small
//! shards (a GEMM of a few rows runs below the rate of a whole batch).

use backprop::dist::traffic;
use backprop::presets::PRESETS;

/// Link speeds (Gbit/s) and a typical latency per message (µs): TCP over
/// 10 GbE, RoCE over 25 GbE, InfiniBand at 100 Gbit/s.
const LINKS: [(f64, f64); 3] = [(10.0, 25.0), (25.0, 10.0), (100.0, 2.0)];
const RANKS: [usize; 6] = [2, 4, 8, 16, 32, 64];

fn main() {
    let mut rates = vec![("M", 98_229.0), ("B", 107_664.0), ("L", 9_283.0)];
    for arg in std::env::args().skip(1) {
        let (name, rate) = arg
            .split_once('=')
            .and_then(|(n, r)| Some((n.to_string(), r.parse::<f64>().ok()?)))
            .unwrap_or_else(|| panic!("give NAME=SAMPLES_PER_SEC, e.g. L=9283, not {arg}"));
        match rates
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(r) => r.1 = rate,
            None => panic!("no preset {name} among M, B, L"),
        }
    }
    for (name, rate) in rates {
        let preset = PRESETS.iter().find(|p| p.name == name).expect("a preset");
        let params: usize = preset.sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum();
        let batch = preset.batch;
        println!(
            "\n**{name}**: {params} parameters, batch {batch}, one machine {rate:.0} samples/s \
             ({:.2} ms per step)\n",
            1e3 * batch as f64 / rate
        );
        println!("| P | rows per rank | compute ms | MB sent per rank | comm ms at 10 / 25 / 100 Gbit/s | speed-up at 10 / 25 / 100 |");
        println!("|---|---|---|---|---|---|");
        let one = batch as f64 / rate;
        let mut crossover = [None; 3];
        for p in RANKS {
            if p > batch {
                break;
            }
            // one shard of batch/P rows per rank (the most loaded rank)
            let t = (0..p)
                .map(|r| traffic(params, p, p, r, false))
                .max_by_key(|t| t.sent_bytes.max(t.received_bytes))
                .expect("ranks");
            let bytes = t.sent_bytes.max(t.received_bytes) as f64;
            let rows = batch.div_ceil(p);
            let compute = rows as f64 / rate;
            let comm: Vec<f64> = LINKS
                .iter()
                .map(|&(gbit, lat_us)| {
                    f64::from(t.collectives) * (p - 1) as f64 * lat_us * 1e-6
                        + bytes * 8.0 / (gbit * 1e9)
                })
                .collect();
            for (i, c) in comm.iter().enumerate() {
                if crossover[i].is_none() && *c >= compute {
                    crossover[i] = Some(p);
                }
            }
            let ms = |v: f64| format!("{:.2}", 1e3 * v);
            println!(
                "| {p} | {rows} | {} | {:.1} | {} | {} |",
                ms(compute),
                t.sent_bytes as f64 / 1e6,
                comm.iter().map(|&c| ms(c)).collect::<Vec<_>>().join(" / "),
                comm.iter()
                    .map(|&c| format!("{:.1}×", one / (compute + c)))
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
        }
        let said: Vec<String> = LINKS
            .iter()
            .zip(crossover)
            .map(|(&(gbit, _), c)| match c {
                Some(p) => format!("{gbit} Gbit/s: P = {p}"),
                None => format!("{gbit} Gbit/s: not below P = 64"),
            })
            .collect();
        println!("\nCommunication overtakes compute at {}.", said.join(", "));
    }
}
