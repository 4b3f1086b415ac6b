//! The CEL environment zot's expressions run in (claim mapping, policy conditions): the
//! standard library plus the strings extension (`split`, `lowerAscii`, …), over JSON inputs.
//!
//! The `cel` crate has no type checker, so compiling here adds the checks zot's type checker
//! makes that matter for a configuration: every top-level name must be one the caller declares
//! (a typo is a configuration error, not a runtime failure), and an expression that must be a
//! boolean must not be one that can only be something else (arithmetic, a string method, a
//! literal, a list). Names of dynamic type (`claims.admin`) pass, as in zot.

use cel::common::ast::{operators, Expr};
use cel::{Context, Env, Program};
use serde_json::Value as Json;
use std::sync::{Arc, OnceLock};

/// A compiled expression and its source (for messages).
#[derive(Debug)]
pub struct Expression {
    program: Program,
    source: String,
}

fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        env.add_extension(cel::extensions::strings)
            .expect("the strings extension registers");
        Arc::new(env)
    })
    .clone()
}

impl Expression {
    /// Compile `source`, whose top-level names must be among `names`.
    pub fn compile(source: &str, names: &[&str]) -> Result<Expression, String> {
        let program = env().compile(source).map_err(|e| {
            format!(
                "{:?} does not compile: {}",
                source,
                first_line(&e.to_string())
            )
        })?;
        for name in program.references().variables() {
            if !names.contains(&name) {
                return Err(format!(
                    "{source:?} refers to {name:?}, which is not defined here (defined: {})",
                    names.join(", ")
                ));
            }
        }
        Ok(Expression {
            program,
            source: source.to_owned(),
        })
    }

    /// Compile a condition or validation: as [`Expression::compile`], and refused if it can
    /// only evaluate to something other than a boolean.
    pub fn compile_boolean(source: &str, names: &[&str]) -> Result<Expression, String> {
        let expression = Expression::compile(source, names)?;
        if !may_be_boolean(&expression.program.expression().expr) {
            return Err(format!("{source:?} is not a boolean expression"));
        }
        Ok(expression)
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluate with `inputs` (name, JSON value), giving JSON.
    pub fn evaluate(&self, inputs: &[(&str, &Json)]) -> Result<Json, String> {
        let mut context = Context::with_env(env());
        for (name, value) in inputs {
            let value = cel::to_value(value).map_err(|e| format!("input {name}: {e}"))?;
            context
                .add_variable(*name, value)
                .map_err(|e| format!("input {name}: {e}"))?;
        }
        let value = self
            .program
            .execute(&context)
            .map_err(|e| format!("{:?} failed: {e}", self.source))?;
        value
            .json()
            .map_err(|e| format!("{:?} gave a value with no JSON form: {e}", self.source))
    }

    /// Evaluate to a boolean (anything else is an error).
    pub fn evaluate_boolean(&self, inputs: &[(&str, &Json)]) -> Result<bool, String> {
        match self.evaluate(inputs)? {
            Json::Bool(b) => Ok(b),
            other => Err(format!("{:?} gave {other}, not a boolean", self.source)),
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Whether an expression can evaluate to a boolean (false only when it certainly cannot).
fn may_be_boolean(expr: &Expr) -> bool {
    match expr {
        Expr::Literal(literal) => matches!(literal, cel::common::ast::LiteralValue::Boolean(_)),
        Expr::List(_) | Expr::Map(_) | Expr::Struct(_) => false,
        Expr::Call(call) => match call.func_name.as_str() {
            operators::ADD
            | operators::SUBSTRACT
            | operators::MULTIPLY
            | operators::DIVIDE
            | operators::MODULO
            | operators::NEGATE => false,
            operators::CONDITIONAL => call.args.iter().skip(1).all(|a| may_be_boolean(&a.expr)),
            "size" | "string" | "int" | "uint" | "double" | "split" | "lowerAscii"
            | "upperAscii" | "trim" | "replace" | "substring" | "join" | "charAt" | "indexOf"
            | "lastIndexOf" | "timestamp" | "duration" => false,
            _ => true,
        },
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zot_expressions() {
        let claims = json!({"iss": "https://i", "sub": "s", "email": "dev@x.test",
            "kubernetes.io/serviceaccount/namespace": "ci", "admin": true, "groups": ["a"]});
        let names = ["claims", "vars"];
        let vars = json!({"ns": "ci"});
        let eval = |s: &str| {
            Expression::compile(s, &names)
                .unwrap()
                .evaluate(&[("claims", &claims), ("vars", &vars)])
        };
        assert_eq!(
            eval("claims.iss + '/' + claims.sub").unwrap(),
            json!("https://i/s")
        );
        assert_eq!(eval("claims.email.split('@')[0]").unwrap(), json!("dev"));
        assert_eq!(
            eval("claims['kubernetes.io/serviceaccount/namespace']").unwrap(),
            json!("ci")
        );
        assert_eq!(eval("vars.ns in ['ci', 'prod']").unwrap(), json!(true));
        assert_eq!(eval("claims.admin == true").unwrap(), json!(true));
        assert_eq!(eval("claims.email.startsWith('dev')").unwrap(), json!(true));
        assert_eq!(eval("[vars.ns, 'all']").unwrap(), json!(["ci", "all"]));
        assert!(eval("claims.missing").is_err());
    }

    #[test]
    fn configuration_errors() {
        let names = ["claims"];
        assert!(Expression::compile("1 +", &names)
            .unwrap_err()
            .contains("does not compile"));
        assert!(Expression::compile("claim.sub", &names)
            .unwrap_err()
            .contains("\"claim\""));
        for not_boolean in [
            "claims.sub + 'x'",
            "'text'",
            "[true]",
            "size(claims.sub)",
            "claims.sub.split('@')",
        ] {
            assert!(
                Expression::compile_boolean(not_boolean, &names).is_err(),
                "{not_boolean}"
            );
        }
        for boolean in [
            "claims.admin",
            "claims.sub == 'x'",
            "true",
            "has(claims.sub)",
            "claims.sub.startsWith('a') && !claims.admin",
        ] {
            assert!(
                Expression::compile_boolean(boolean, &names).is_ok(),
                "{boolean}"
            );
        }
    }
}
