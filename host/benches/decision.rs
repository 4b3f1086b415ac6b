//! Per-decision cost of the default authorizer plugin, on a warm instance and on a fresh
//! instance per call, plus the cost of an htpasswd check — each as a request pays it: through
//! the plugin's bounded call pool, off the async workers — and the same warm and fresh costs
//! of each example plugin (Rust, Python, JavaScript, C) that `examples/plugins/build` built
//! under `target/example-plugins` (an example not built is skipped, and said so). Run: `cargo
//! bench -p portcullis --bench decision`. Prints one line per figure and writes
//! `target/bench/decision.json`.

use portcullis::plugins::kv::KvLimits;
use portcullis::plugins::model::{
    AccessRequest, Action, BasicCredentials, Identity, RequestContext, Resource,
};
use portcullis::plugins::{builtin, Authn, Authz, Limits, PluginRuntime, PluginSpec, Source};
use serde_json::json;
use std::time::{Duration, Instant};

/// A zot configuration of realistic size: a few dozen patterns, groups, an admin.
fn access_control() -> serde_json::Value {
    let mut repositories = serde_json::Map::new();
    for team in 0..30 {
        repositories.insert(
            format!("team{team}/**"),
            json!({"policies": [{"users": [format!("lead{team}")], "actions": ["read", "create", "update"]},
                                {"groups": [format!("devs{team}")], "actions": ["read", "create"]}],
                   "defaultPolicy": ["read"]}),
        );
    }
    repositories.insert("**".into(), json!({"anonymousPolicy": ["read"]}));
    json!({"accessControl": {
        "groups": {"devs7": {"users": ["alice", "bob"]}},
        "repositories": repositories,
        "adminPolicy": {"users": ["admin"], "actions": ["read", "create", "update", "delete"]},
    }})
}

/// A default plugin's source.
fn embedded(name: &str) -> Source {
    Source::Builtin(builtin(name).expect("embedded plugin"))
}

/// Median over five rounds of the mean time per call, each round about a third of a second.
fn measure_adaptive(mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    f();
    let once = started.elapsed().max(Duration::from_nanos(100));
    let iterations = (Duration::from_millis(300).as_nanos() / once.as_nanos()).clamp(3, 100_000);
    measure(5, iterations as u32, f)
}

/// The example plugins: file name, whether it authorizes (else it authenticates), config.
fn examples() -> Vec<(&'static str, bool, serde_json::Value)> {
    use sha2::Digest as _;
    let alice = hex::encode(sha2::Sha256::digest(b"alice-pw"));
    vec![
        (
            "immutable-tags",
            true,
            json!({"immutableTagPrefix": "v", "deleteGroup": "maintainers"}),
        ),
        ("user-namespaces", true, json!({})),
        (
            "read-only-prefixes",
            true,
            json!({"readOnly": ["mirror/", "base/"]}),
        ),
        (
            "static-passwords",
            false,
            json!({"users": {"alice": {"sha256": alice, "groups": ["devs"]}}}),
        ),
    ]
}

/// Median over `rounds` of the mean time per call of `iterations` calls.
fn measure(rounds: usize, iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations.min(1000) {
        f();
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..iterations {
                f();
            }
            started.elapsed() / iterations
        })
        .collect();
    samples.sort();
    samples[rounds / 2]
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    let runtime = PluginRuntime::new(dir.join("cache"), &dir.join("kv.redb"))?;
    let rt = tokio::runtime::Runtime::new()?;
    let limits = |reuse| Limits {
        deadline: Duration::from_secs(5),
        memory: 128 << 20,
        reuse,
        concurrency: portcullis::plugins::CONCURRENCY,
        queue_timeout: Duration::from_secs(5),
    };
    let spec = |name: &str, source: Source, config: String, reuse| PluginSpec {
        name: name.into(),
        source,
        config,
        limits: limits(reuse),
        kv: KvLimits::default(),
        log_per_second: portcullis::plugins::LINES_PER_SECOND,
    };
    let request = AccessRequest {
        identity: Some(Identity::new("alice", vec![], "htpasswd")),
        resource: Resource::Repository("team7/service".into()),
        action: Action::Create,
        reference: Some("v1.2.3".into()),
        context: RequestContext::default(),
        claims: None,
    };
    let mut results = serde_json::Map::new();
    for (reuse, label, iterations) in [(true, "warm", 100_000), (false, "fresh", 2_000)] {
        let plugin = runtime.load::<Authz>(&spec(
            "access-control",
            embedded("access-control"),
            access_control().to_string(),
            reuse,
        ))?;
        let per_call = measure(5, iterations, || {
            let decision = rt.block_on(plugin.authorize(&request)).expect("decision");
            std::hint::black_box(decision);
        });
        println!(
            "authorizer decision, {label} instance: {:.2} µs",
            per_call.as_secs_f64() * 1e6
        );
        results.insert(
            format!("decision_{label}_us"),
            json!(per_call.as_secs_f64() * 1e6),
        );
    }
    let htpasswd = format!(
        "alice:{}\n",
        "$2y$10$d.AEDyhiyaYlOocu1kEhbOY2Gq4InSReI1FSheYr6ztN1EU82DSHm"
    );
    let authn = runtime.load::<Authn>(&spec(
        "htpasswd",
        embedded("htpasswd"),
        json!({"htpasswd": htpasswd}).to_string(),
        true,
    ))?;
    let credentials = BasicCredentials {
        username: "alice".into(),
        password: "alice".into(),
    };
    let per_check = measure(3, 5, || {
        std::hint::black_box(
            rt.block_on(authn.authenticate(&credentials))
                .expect("verdict"),
        );
    });
    println!(
        "htpasswd bcrypt (cost 10) check: {:.1} ms",
        per_check.as_secs_f64() * 1e3
    );
    results.insert(
        "htpasswd_bcrypt10_ms".into(),
        json!(per_check.as_secs_f64() * 1e3),
    );
    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/example-plugins");
    for (name, authorizes, config) in examples() {
        let path = built.join(format!("{name}.wasm"));
        if !path.exists() {
            println!("example {name}: not built (examples/plugins/build {name}), skipped");
            continue;
        }
        for (reuse, label) in [(true, "warm"), (false, "fresh")] {
            let spec = spec(name, Source::File(path.clone()), config.to_string(), reuse);
            let per_call = if authorizes {
                let plugin = runtime.load::<Authz>(&spec)?;
                measure_adaptive(|| {
                    std::hint::black_box(
                        rt.block_on(plugin.authorize(&request)).expect("decision"),
                    );
                })
            } else {
                let plugin = runtime.load::<Authn>(&spec)?;
                let credentials = BasicCredentials {
                    username: "alice".into(),
                    password: "alice-pw".into(),
                };
                measure_adaptive(|| {
                    std::hint::black_box(
                        rt.block_on(plugin.authenticate(&credentials))
                            .expect("verdict"),
                    );
                })
            };
            println!(
                "example {name}, {label} instance: {:.2} µs",
                per_call.as_secs_f64() * 1e6
            );
            results.insert(
                format!("example {name} {label}_us"),
                json!(per_call.as_secs_f64() * 1e6),
            );
        }
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("decision.json"),
        serde_json::to_vec_pretty(&results)?,
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
