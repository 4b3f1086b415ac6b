//! zot's claim mapping (reference §3.10), compiled once at `configure`, evaluated per token:
//! `variables` in order (each may use `claims` and earlier `vars`), then every `validation`
//! (must be true, else the token is refused with its message), then `username` (default
//! `claims.iss + '/' + claims.sub`; must be a non-empty string) and `groups` (a list of
//! strings; none when not configured). Any evaluation error refuses the token.

use cel_env::Expression;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The default username expression.
pub const DEFAULT_USERNAME: &str = "claims.iss + '/' + claims.sub";

/// The plugin's configuration: the issuers' mappings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// One entry per `http.auth.bearer.oidc[]` issuer.
    pub issuers: Vec<IssuerConfig>,
}

/// One issuer's mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IssuerConfig {
    /// The issuer URL, as configured.
    pub issuer: String,
    /// zot's `claimMapping`.
    #[serde(default)]
    pub claim_mapping: MappingConfig,
}

/// zot's `claimMapping`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Named intermediate expressions.
    #[serde(default)]
    pub variables: Vec<NamedExpression>,
    /// Expressions that must be true.
    #[serde(default)]
    pub validations: Vec<Validation>,
    /// The username expression.
    #[serde(default)]
    pub username: Option<String>,
    /// The groups expression.
    #[serde(default)]
    pub groups: Option<String>,
}

/// A variable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedExpression {
    /// Its name (`vars.<name>`).
    pub name: String,
    /// Its expression.
    pub expression: String,
}

/// A validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Must be true.
    pub expression: String,
    /// Why a token is refused when it is not.
    pub message: String,
}

/// One issuer's compiled mapping.
pub struct Mapping {
    issuer: String,
    variables: Vec<(String, Expression)>,
    validations: Vec<(Expression, String)>,
    username: Expression,
    groups: Option<Expression>,
}

/// Every issuer's compiled mapping.
pub struct Mappings(Vec<Mapping>);

/// Who a token proves.
#[derive(Debug, PartialEq, Eq)]
pub struct Mapped {
    /// The username.
    pub username: String,
    /// The groups.
    pub groups: Vec<String>,
}

const NAMES: [&str; 2] = ["claims", "vars"];

impl Mappings {
    /// Parse and compile the configuration, naming what is wrong.
    pub fn compile(json: &str) -> Result<Mappings, String> {
        let config: Config =
            serde_json::from_str(json).map_err(|e| format!("invalid configuration: {e}"))?;
        config
            .issuers
            .iter()
            .enumerate()
            .map(|(i, c)| Mapping::compile(c).map_err(|e| format!("oidc[{i}] ({}): {e}", c.issuer)))
            .collect::<Result<_, _>>()
            .map(Mappings)
    }

    /// Map the verified claims of a token from `issuer`.
    pub fn map(&self, issuer: &str, claims: &str) -> Result<Mapped, String> {
        let mapping = self
            .0
            .iter()
            .find(|m| m.issuer == issuer)
            .ok_or_else(|| format!("no claim mapping for issuer {issuer}"))?;
        let claims: Value =
            serde_json::from_str(claims).map_err(|e| format!("claims are not JSON: {e}"))?;
        mapping.map(&claims)
    }
}

impl Mapping {
    fn compile(c: &IssuerConfig) -> Result<Mapping, String> {
        let m = &c.claim_mapping;
        let mut variables = Vec::new();
        for (i, v) in m.variables.iter().enumerate() {
            if v.name.trim().is_empty() {
                return Err(format!(
                    "claimMapping.variables[{i}]: variable name is empty"
                ));
            }
            let e = Expression::compile(&v.expression, &NAMES)
                .map_err(|e| format!("claimMapping.variables[{i}]: {e}"))?;
            variables.push((v.name.clone(), e));
        }
        let mut validations = Vec::new();
        for (i, v) in m.validations.iter().enumerate() {
            if v.message.trim().is_empty() {
                return Err(format!(
                    "claimMapping.validations[{i}]: validation error message is empty"
                ));
            }
            let e = Expression::compile_boolean(&v.expression, &NAMES)
                .map_err(|e| format!("claimMapping.validations[{i}]: {e}"))?;
            validations.push((e, v.message.clone()));
        }
        let username = m.username.as_deref().filter(|u| !u.trim().is_empty());
        let username = Expression::compile(username.unwrap_or(DEFAULT_USERNAME), &NAMES)
            .map_err(|e| format!("claimMapping.username: {e}"))?;
        let groups = m
            .groups
            .as_deref()
            .filter(|g| !g.trim().is_empty())
            .map(|g| {
                Expression::compile(g, &NAMES).map_err(|e| format!("claimMapping.groups: {e}"))
            })
            .transpose()?;
        Ok(Mapping {
            issuer: c.issuer.clone(),
            variables,
            validations,
            username,
            groups,
        })
    }

    fn map(&self, claims: &Value) -> Result<Mapped, String> {
        let mut vars = Map::new();
        for (name, expression) in &self.variables {
            let value = expression
                .evaluate(&[("claims", claims), ("vars", &Value::Object(vars.clone()))])
                .map_err(|e| format!("claimMapping.variables {name:?}: {e}"))?;
            vars.insert(name.clone(), value);
        }
        let vars = Value::Object(vars);
        let inputs = [("claims", claims), ("vars", &vars)];
        for (i, (expression, message)) in self.validations.iter().enumerate() {
            let holds = expression
                .evaluate_boolean(&inputs)
                .map_err(|e| format!("claimMapping.validations[{i}]: {e}"))?;
            if !holds {
                return Err(format!("OIDC claim validation failed: {message}"));
            }
        }
        let username = match self
            .username
            .evaluate(&inputs)
            .map_err(|e| format!("claimMapping.username: {e}"))?
        {
            Value::String(s) if !s.trim().is_empty() => s,
            Value::String(_) => return Err("the username expression gave an empty string".into()),
            other => {
                return Err(format!(
                    "the username expression gave {other}, not a string"
                ))
            }
        };
        let groups = match &self.groups {
            None => Vec::new(),
            Some(expression) => match expression
                .evaluate(&inputs)
                .map_err(|e| format!("claimMapping.groups: {e}"))?
            {
                Value::Array(items) => items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s),
                        other => Err(format!("the groups expression gave {other} in its list")),
                    })
                    .collect::<Result<_, _>>()?,
                Value::String(s) => vec![s],
                other => return Err(format!("the groups expression gave {other}, not a list")),
            },
        };
        Ok(Mapped { username, groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seeds_kubernetes_example() {
        let config = json!({"issuers": [{"issuer": "https://k8s.test", "claimMapping": {
            "variables": [{"name": "namespace", "expression": "claims['kubernetes.io/serviceaccount/namespace']"},
                          {"name": "sa", "expression": "claims['kubernetes.io/serviceaccount/service-account.name']"}],
            "validations": [{"expression": "vars.namespace in ['ci', 'build']", "message": "namespace not allowed"}],
            "username": "'system:serviceaccount:' + vars.namespace + ':' + vars.sa",
            "groups": "['k8s:' + vars.namespace]"}}]})
        .to_string();
        let m = Mappings::compile(&config).unwrap();
        let claims = json!({"iss": "https://k8s.test", "sub": "x",
            "kubernetes.io/serviceaccount/namespace": "ci",
            "kubernetes.io/serviceaccount/service-account.name": "builder"});
        assert_eq!(
            m.map("https://k8s.test", &claims.to_string()).unwrap(),
            Mapped {
                username: "system:serviceaccount:ci:builder".into(),
                groups: vec!["k8s:ci".into()]
            }
        );
        let other = json!({"iss": "https://k8s.test", "sub": "x",
            "kubernetes.io/serviceaccount/namespace": "prod",
            "kubernetes.io/serviceaccount/service-account.name": "b"});
        let e = m.map("https://k8s.test", &other.to_string()).unwrap_err();
        assert!(e.contains("namespace not allowed"), "{e}");
        assert!(m.map("https://elsewhere", "{}").is_err());
    }

    #[test]
    fn defaults_and_refusals() {
        let m = Mappings::compile(&json!({"issuers": [{"issuer": "i"}]}).to_string()).unwrap();
        let mapped = m
            .map("i", r#"{"iss":"https://i","sub":"repo:org/app"}"#)
            .unwrap();
        assert_eq!(mapped.username, "https://i/repo:org/app");
        assert!(mapped.groups.is_empty());
        let empty = Mappings::compile(
            &json!({"issuers": [{"issuer": "i", "claimMapping": {"username": "claims.name"}}]})
                .to_string(),
        )
        .unwrap();
        assert!(empty
            .map("i", r#"{"name":""}"#)
            .unwrap_err()
            .contains("empty"));
        for bad in [
            json!({"variables": [{"name": "", "expression": "1"}]}),
            json!({"validations": [{"expression": "true", "message": ""}]}),
            json!({"validations": [{"expression": "claims.sub + 'x'", "message": "m"}]}),
            json!({"username": "claims.sub +"}),
            json!({"username": "clams.sub"}),
        ] {
            let config = json!({"issuers": [{"issuer": "i", "claimMapping": bad}]}).to_string();
            assert!(Mappings::compile(&config).is_err(), "{config}");
        }
    }
}
