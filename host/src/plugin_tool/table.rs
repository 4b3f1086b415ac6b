//! `portcullis plugin test FILE CASES`: a table of requests and expected answers, run offline
//! against one component; one line per case, a diff for each failure, a non-zero exit status
//! when any case fails.
//!
//! The table (YAML or JSON):
//!
//! ```yaml
//! config: {immutableTagPrefix: v}   # the plugin's configuration (default {})
//! cases:
//!   - name: a release tag cannot move
//!     function: authorize           # optional: the world's decision function
//!     request: {resource: {repository: team/app}, action: update, reference: v1.0}
//!     expect: {decision: deny, reason: "tag v1.0 is immutable"}
//!   - name: reads are allowed
//!     request: {resource: {repository: team/app}, action: read}
//!     expect: allow                 # short for {decision: allow}
//! ```

use super::input::{document, typed};
use super::logs;
use super::matching::{differences, render};
use super::outcome::decide;
use super::request::Request;
use super::source::{PluginSource, RegistryOptions};
use super::workbench::{RuntimeOptions, Workbench};
use super::world::{Function, World};
use crate::plugins::PluginSet;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// The format of CASES, shown by `portcullis plugin test --help`.
const CASES_HELP: &str = "\
CASES (YAML or JSON, by extension):

  config: {immutableTagPrefix: v}   # the plugin's configuration (default {})
  cases:
    - name: a release tag cannot move
      function: authorize           # optional: the world's only function
      request: {resource: {repository: team/app}, action: update, reference: v1.0}
      expect: {decision: deny, reason: 'tag v1.0 is immutable'}
    - name: reads are allowed
      request: {resource: {repository: team/app}, action: read}
      expect: allow                 # short for {decision: allow}

A request is what `portcullis plugin run --request` takes (see its --help). `expect` names only
the fields of the answer that matter, at any depth (e.g. {decision: authenticated, identity:
{username: alice}}); lists and values compare exactly. A failing case prints a diff (- expected,
+ actual), the whole answer and the plugin's log lines; the exit status is then non-zero.";

/// Arguments of `test`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = CASES_HELP)]
pub struct TestArgs {
    /// The component: a path to a `.wasm` file, or `oci://host/repository@sha256:…` (or
    /// `:tag`), pulled first.
    #[arg(value_parser = PluginSource::parse, value_name = "FILE")]
    file: PluginSource,
    #[command(flatten)]
    registry: RegistryOptions,
    /// The table of cases: a YAML or JSON file with the plugin's `config` and its `cases`
    /// (each a `name`, an optional `function`, a `request` as for `run`, and what to
    /// `expect`: a decision, or an object of the answer's fields to compare).
    #[arg(value_name = "CASES")]
    cases: PathBuf,
    #[command(flatten)]
    options: RuntimeOptions,
}

/// A table of cases.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    /// The plugin's configuration, as in the registry's configuration file.
    #[serde(default)]
    config: Option<Value>,
    cases: Vec<Case>,
}

/// One case.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    function: Option<Function>,
    request: Value,
    /// A decision (`allow`), or fields of the answer (`{decision: deny, reason: …}`).
    expect: Value,
}

impl Case {
    /// The expected fields of the answer.
    fn expected(&self) -> Value {
        match &self.expect {
            Value::String(decision) => json!({ "decision": decision }),
            other => other.clone(),
        }
    }
}

/// Run `test`.
pub fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let file = args.file.resolve(&args.registry)?;
    let table: Table = typed(&args.cases.display().to_string(), document(&args.cases)?)?;
    let config = table.config.clone().unwrap_or(json!({})).to_string();
    let bench = Workbench::new(&args.options)?;
    let (world, _) = bench.shape(&file)?.require_world()?;
    let set = bench.load(&file, world, &config)?;
    let mut failed = 0;
    for case in &table.cases {
        logs::take();
        match run_case(&bench, &set, world, case) {
            Ok((micros, None)) => println!("ok    {} ({micros} µs)", case.name),
            Ok((micros, Some(report))) => {
                failed += 1;
                println!("FAIL  {} ({micros} µs)\n{}", case.name, indent(&report));
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  {}\n{}", case.name, indent(&format!("{e:#}\n")));
            }
        }
    }
    let passed = table.cases.len() - failed;
    if failed == 0 {
        println!("test result: ok. {passed} passed; 0 failed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("test result: FAILED. {passed} passed; {failed} failed");
        Ok(ExitCode::FAILURE)
    }
}

/// Run one case: its time in µs, and a report when the answer is not the expected one.
fn run_case(
    bench: &Workbench,
    set: &PluginSet,
    world: World,
    case: &Case,
) -> anyhow::Result<(u128, Option<String>)> {
    let function = world.function(case.function)?;
    let request = Request::parse(function, case.request.clone())?;
    let (outcome, elapsed) = bench.block_on(decide(set, &request))?;
    let actual = serde_json::to_value(&outcome)?;
    let found = differences(&case.expected(), &actual);
    if found.is_empty() {
        return Ok((elapsed.as_micros(), None));
    }
    let mut report = render(&found);
    report += &format!("answer: {actual}\n");
    for line in logs::take() {
        report += &format!("plugin log: {line}\n");
    }
    Ok((elapsed.as_micros(), Some(report)))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      {l}\n")).collect()
}
