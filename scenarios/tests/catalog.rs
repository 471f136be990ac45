//! The scenario catalog as named tests: one per scenario file × strategy, so `cargo test race1`
//! runs the race 1 scenarios and a new file in `scenarios/catalog/` is picked up with no code.

use libtest_mimic::{Arguments, Failed, Trial};
use scenarios::format::load_dir;
use scenarios::model::build_at;
use scenarios::{schedules, verdict};

/// Explorations allocate at every step of every execution, and with several jobs free on one
/// thread what another allocated: mimalloc runs DPOR about a third faster than the system
/// allocator on one job, and lets two jobs scale.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args = Arguments::from_args();
    let trials = match load_dir(&scenarios::catalog_dir()) {
        Err(e) => vec![Trial::test("catalog::load", move || Err(Failed::from(e.to_string())))],
        Ok(files) => files
            .into_iter()
            .flat_map(|(path, s)| match build_at(&path, &s) {
                Err(e) => {
                    let msg = e.to_string();
                    vec![Trial::test(format!("{}::build", s.name), move || Err(Failed::from(msg)))]
                }
                Ok(model) => s
                    .strategies
                    .iter()
                    .map(|st| {
                        let (model, strat, label) = (model.clone(), st.strategy(), st.name());
                        let (s, path) = (s.clone(), path.clone());
                        Trial::test(format!("{}::{label}", s.name), move || {
                            let outcome = model.explore(&strat);
                            let verdict = verdict::judge(model.expect(), &outcome);
                            if verdict.ok {
                                return Ok(());
                            }
                            // An unexpected failure leaves its minimised schedule to replay.
                            let dir = schedules::default_dir(&scenarios::catalog_dir().join("../.."));
                            let saved = schedules::save(&s, &path, &model, &outcome, true, &dir, &label)
                                .filter(|saved| saved.recorded.replays)
                                .and_then(|saved| saved.written.ok())
                                .map(|p| p.canonicalize().unwrap_or(p))
                                .map(|p| {
                                    format!("\nreplay: cargo run -p scenarios --bin joinrace -- replay {}", p.display())
                                })
                                .unwrap_or_default();
                            Err(Failed::from(format!("{verdict}\n{outcome}{saved}")))
                        })
                    })
                    .collect(),
            })
            .collect(),
    };
    libtest_mimic::run(&args, trials).exit();
}
