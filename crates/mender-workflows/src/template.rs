//! Upstream's `${...}` templating of task parameters.
//!
//! Grammar: `${[flag=value;]...name[|default]}`. The only flag is `encoding=url|html`.
//! Names: `workflow.input.<param>` (the input's string value), `env.<VAR>` (the configured or
//! process environment; the default is used when unset or empty) and `<task>.json.<path>` (a
//! dotted path, `[n]` for array items, into the JSON output of an earlier http/cli task).
//! Anything unresolved becomes the default, or the empty string.
//!
//! Substitution is a single pass: text coming out of a value is never expanded again, so an
//! input containing `${env.X}` cannot read the environment.

use std::collections::BTreeMap;
use std::sync::LazyLock;

pub use mender_core::goform::{html_escape, query_escape};
use regex::{Captures, Regex};
use serde_json::Value;

use crate::model::{InputParameter, TaskResult, task_type, value_to_string};

static EXPR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{((?:[a-zA-Z]+=[a-zA-Z0-9]+;)*)([^;}|]+)(?:\|([^}]+))?\}")
        .expect("template regex")
});

const INPUT_PREFIX: &str = "workflow.input.";
const ENV_PREFIX: &str = "env.";
const OUTPUT_MARKER: &str = ".json.";

/// Where `${env.X}` looks: configured variables first, then the process environment.
#[derive(Debug, Clone, Default)]
pub struct EnvSource {
    overrides: BTreeMap<String, String>,
}

impl EnvSource {
    /// An environment where `overrides` win over the process environment.
    pub fn new(overrides: BTreeMap<String, String>) -> Self {
        Self { overrides }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<String> {
        match self.overrides.get(name) {
            Some(v) => Some(v.clone()),
            None => std::env::var(name).ok(),
        }
    }
}

/// What templates of one job can see.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The job's inputs.
    pub inputs: &'a [InputParameter],
    /// Results of the tasks run so far.
    pub results: &'a [TaskResult],
    /// The environment.
    pub env: &'a EnvSource,
}

#[derive(Clone, Copy)]
enum Encoding {
    Plain,
    Url,
    Html,
}

fn encoding_of(flags: &str) -> Encoding {
    let mut enc = Encoding::Plain;
    for flag in flags.split(';') {
        match flag.split_once('=') {
            Some(("encoding", "url")) => enc = Encoding::Url,
            Some(("encoding", "html")) => enc = Encoding::Html,
            _ => {}
        }
    }
    enc
}

impl Context<'_> {
    /// Renders every `${...}` in `s`.
    pub fn render(&self, s: &str) -> String {
        if !s.contains("${") {
            return s.to_owned();
        }
        EXPR.replace_all(s, |c: &Captures<'_>| self.expand(c))
            .into_owned()
    }

    fn expand(&self, c: &Captures<'_>) -> String {
        let name = &c[2];
        let default = c.get(3).map_or("", |m| m.as_str());
        let value = self.lookup(name).unwrap_or_else(|| default.to_owned());
        match encoding_of(&c[1]) {
            Encoding::Plain => value,
            Encoding::Url => query_escape(&value),
            Encoding::Html => html_escape(&value),
        }
    }

    /// The value of a name, or `None` for "use the default".
    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(param) = name.strip_prefix(INPUT_PREFIX).filter(|p| !p.is_empty()) {
            // A given input wins even when empty, as upstream.
            return self
                .inputs
                .iter()
                .find(|p| p.name == param)
                .map(|p| p.value.clone());
        }
        if let Some(var) = name.strip_prefix(ENV_PREFIX).filter(|v| !v.is_empty()) {
            return self.env.get(var).filter(|v| !v.is_empty());
        }
        // `<task>.json.<path>`: the task name is everything before the last marker.
        let (task, path) = name.rsplit_once(OUTPUT_MARKER)?;
        let result = self.results.iter().find(|r| r.name == task)?;
        let output = match result.kind.as_str() {
            task_type::HTTP => &result.http_response.as_ref()?.body,
            task_type::CLI => &result.cli.as_ref()?.output,
            _ => return None,
        };
        let doc: Value = serde_json::from_str(output).ok()?;
        let found = json_path(&doc, path)?;
        Some(value_to_string(found)).filter(|s| !s.is_empty())
    }

    /// Renders a JSON payload (`http.json`, `nats.data`): every string is rendered, and a
    /// string that is exactly one `${workflow.input.X}` becomes that input's raw JSON value.
    pub fn render_json(&self, v: &Value) -> Value {
        match v {
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| self.render_json(i)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, i)| (k.clone(), self.render_json(i)))
                    .collect(),
            ),
            Value::String(s) => self
                .raw_input(s)
                .unwrap_or_else(|| Value::String(self.render(s))),
            other => other.clone(),
        }
    }

    fn raw_input(&self, s: &str) -> Option<Value> {
        let c = EXPR.captures(s)?;
        let whole = c.get(0)?;
        if whole.start() != 0 || whole.end() != s.len() || !c[1].is_empty() || c.get(3).is_some() {
            return None;
        }
        let param = c[2].strip_prefix(INPUT_PREFIX)?;
        // Raw values are inserted as they are: templates inside inputs are data, not code.
        // A missing input is `null`, as upstream.
        Some(
            self.inputs
                .iter()
                .find(|p| p.name == param)
                .and_then(|p| p.raw.clone())
                .unwrap_or(Value::Null),
        )
    }
}

/// Follows a dotted path (`a.b`, `items.[0].id`, `items.0.id`) into a JSON document.
fn json_path<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = doc;
    for seg in path.split('.') {
        let index = seg
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|n| n.parse::<usize>().ok());
        cur = match (cur, index) {
            (Value::Array(items), Some(i)) => items.get(i)?,
            (Value::Array(items), None) => items.get(seg.parse::<usize>().ok()?)?,
            (Value::Object(map), _) => map.get(seg)?,
            _ => return None,
        };
    }
    (!cur.is_null()).then_some(cur)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{CliResult, HttpResponseResult};

    fn inputs() -> Vec<InputParameter> {
        vec![
            InputParameter::from_json("tenant_id", &json!("t 1/&")),
            InputParameter::from_json("device", &json!({"id": "d1", "n": [1, 2]})),
            InputParameter::from_json("devices", &json!([{"id": "a"}, "b", 3])),
            InputParameter::from_json("empty", &json!("")),
            InputParameter::from_json("evil", &json!("${env.SECRET_X}")),
        ]
    }

    fn env() -> EnvSource {
        EnvSource::new(BTreeMap::from([
            ("INVENTORY_ADDR".to_owned(), "inv:1".to_owned()),
            ("BLANK".to_owned(), String::new()),
            ("SECRET_X".to_owned(), "s3cret".to_owned()),
        ]))
    }

    /// The inputs and environment every test renders with.
    struct Fixture {
        inputs: Vec<InputParameter>,
        env: EnvSource,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                inputs: inputs(),
                env: env(),
            }
        }

        fn context<'a>(&'a self, results: &'a [TaskResult]) -> Context<'a> {
            Context {
                inputs: &self.inputs,
                results,
                env: &self.env,
            }
        }
    }

    /// Asserts that each template renders as expected.
    fn assert_renders(c: &Context<'_>, cases: &[(&str, &str)]) {
        for (template, want) in cases {
            assert_eq!(c.render(template), *want, "{template}");
        }
    }

    fn result(name: &str, kind: &str, out: &str) -> TaskResult {
        TaskResult {
            name: name.into(),
            kind: kind.into(),
            success: true,
            skipped: false,
            attempts: 1,
            error: None,
            cli: (kind == "cli").then(|| CliResult {
                command: vec![],
                output: out.into(),
                error: String::new(),
                exit_code: 0,
            }),
            http_request: None,
            http_response: (kind == "http").then(|| HttpResponseResult {
                status_code: 200,
                body: out.into(),
            }),
        }
    }

    #[test]
    fn inputs_env_defaults_and_encodings() {
        let f = Fixture::new();
        let c = f.context(&[]);
        let cases = [
            (
                "http://${env.INVENTORY_ADDR|mender-inventory:8080}/t/${encoding=url;workflow.input.tenant_id}",
                "http://inv:1/t/t+1%2F%26",
            ),
            ("${env.NOT_SET_ANYWHERE_42|dflt}", "dflt"),
            // An empty environment variable takes the default.
            ("${env.BLANK|dflt}", "dflt"),
            ("[${env.NOT_SET_ANYWHERE_42}]", "[]"),
            // An input given as empty wins over the default.
            ("${workflow.input.empty|x}", ""),
            ("${workflow.input.missing|x y}", "x y"),
            ("${encoding=html;workflow.input.tenant_id}", "t 1/&amp;"),
            ("${encoding=plain;workflow.input.tenant_id}", "t 1/&"),
            ("${workflow.input.devices}", r#"{"id":"a"},b,3"#),
            ("${workflow.input.device}", r#"{"id":"d1","n":[1,2]}"#),
            ("no template $ {x} ${", "no template $ {x} ${"),
            ("${unknown.name|d}-${unknown}", "d-"),
            // Single pass: a value that looks like a template stays literal.
            ("${workflow.input.evil}", "${env.SECRET_X}"),
            ("ü${workflow.input.tenant_id}ü", "üt 1/&ü"),
        ];
        assert_renders(&c, &cases);
    }

    #[test]
    fn task_output_paths() {
        let f = Fixture::new();
        let results = vec![
            result(
                "login",
                "http",
                r#"{"token":"abc","items":[{"id":7},{"id":"x"}],"obj":{"a":1},"nul":null}"#,
            ),
            result("cmd", "cli", r#"{"out":"yes"}"#),
            result("text", "http", "not json"),
        ];
        let c = f.context(&results);
        let cases = [
            ("Bearer ${login.json.token}", "Bearer abc"),
            ("${login.json.items.[0].id}/${login.json.items.1.id}", "7/x"),
            ("${login.json.obj}", r#"{"a":1}"#),
            ("${login.json.nul|d}${login.json.nope|e}", "de"),
            ("${cmd.json.out}", "yes"),
            ("${text.json.a|fallback}", "fallback"),
            ("${ghost.json.a|g}", "g"),
        ];
        assert_renders(&c, &cases);
    }

    #[test]
    fn raw_json_substitution() {
        let f = Fixture::new();
        let c = f.context(&[]);
        let payload = json!({
            "whole": "${workflow.input.device}",
            "list": ["${workflow.input.devices}", "x-${workflow.input.tenant_id}"],
            "num": 5,
            "missing": "${workflow.input.nope}",
            "with_default": "${workflow.input.nope|d}",
            "encoded": "${encoding=url;workflow.input.tenant_id}",
            "evil": "${workflow.input.evil}",
        });
        assert_eq!(
            c.render_json(&payload),
            json!({
                "whole": {"id": "d1", "n": [1, 2]},
                "list": [[{"id": "a"}, "b", 3], "x-t 1/&"],
                "num": 5,
                "missing": null,
                "with_default": "d",
                "encoded": "t+1%2F%26",
                "evil": "${env.SECRET_X}",
            })
        );
        assert_eq!(
            c.render_json(&json!("${workflow.input.device}")),
            json!({"id": "d1", "n": [1, 2]})
        );
    }
}
