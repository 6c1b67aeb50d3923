//! CEL expressions in flows: parsed with the `cel` crate, type-checked here against the
//! variables a flow may read, evaluated at run time against the call's data.
//!
//! CEL (Common Expression Language) is side-effect free and not Turing complete: no loops
//! beyond bounded macros over finite lists, so a condition can never spin.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use cel::{Context, Program, Value};

/// The static type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `true` / `false`.
    Bool,
    /// 64-bit integer.
    Int,
    /// Floating point.
    Double,
    /// Text.
    String,
    /// A point in time (`now`).
    Timestamp,
    /// A list.
    List,
    /// A map (lookup results, attributes).
    Map,
    /// `null`.
    Null,
    /// Known only at run time (lookup data, indexing).
    Dyn,
}

impl Ty {
    /// The name used in flow files (`variables:`) and messages.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Double => "double",
            Ty::String => "string",
            Ty::Timestamp => "timestamp",
            Ty::List => "list",
            Ty::Map => "map",
            Ty::Null => "null",
            Ty::Dyn => "dyn",
        }
    }

    /// A type from its name in a flow file.
    pub fn parse(name: &str) -> Option<Ty> {
        Some(match name {
            "bool" => Ty::Bool,
            "int" => Ty::Int,
            "double" => Ty::Double,
            "string" => Ty::String,
            "map" => Ty::Map,
            "list" => Ty::List,
            _ => return None,
        })
    }

    fn fits(self, want: Ty) -> bool {
        self == want || self == Ty::Dyn || want == Ty::Dyn
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Double | Ty::Dyn)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fields of the objects every flow can read, with their types.
pub const CALLER_FIELDS: &[(&str, Ty)] = &[
    ("number", Ty::String),
    ("name", Ty::String),
    ("country", Ty::String),
    ("region", Ty::String),
];

/// Customer profile fields (from the customer store or a CRM lookup).
pub const CUSTOMER_FIELDS: &[(&str, Ty)] = &[
    ("found", Ty::Bool),
    ("id", Ty::String),
    ("first_name", Ty::String),
    ("last_name", Ty::String),
    ("language", Ty::String),
    ("segment", Ty::String),
    ("tier", Ty::String),
    ("account_owner", Ty::String),
    ("last_agent", Ty::String),
    ("open_cases", Ty::Int),
    ("last_contact_reason", Ty::String),
    ("last_contact_resolved", Ty::Bool),
    ("products", Ty::List),
];

/// Contact fields.
pub const CONTACT_FIELDS: &[(&str, Ty)] = &[
    ("id", Ty::String),
    ("channel", Ty::String),
    ("dialed", Ty::String),
    ("attributes", Ty::Map),
];

/// The waiting caller's place in line (zero outside a queue).
pub const QUEUE_FIELDS: &[(&str, Ty)] = &[("position", Ty::Int), ("wait_minutes", Ty::Int)];

/// What an expression may refer to: built-in objects, `now`, and flow variables.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Flow variables (declared, set or collected) and extra names such as `input`.
    pub variables: BTreeMap<String, Ty>,
}

impl Scope {
    fn object_fields(name: &str) -> Option<&'static [(&'static str, Ty)]> {
        match name {
            "caller" => Some(CALLER_FIELDS),
            "customer" => Some(CUSTOMER_FIELDS),
            "contact" => Some(CONTACT_FIELDS),
            "queue" => Some(QUEUE_FIELDS),
            _ => None,
        }
    }

    fn ident(&self, name: &str) -> Result<Ty, String> {
        if let Some(&t) = self.variables.get(name) {
            return Ok(t);
        }
        match name {
            "now" => Ok(Ty::Timestamp),
            "caller" | "customer" | "contact" | "queue" => Err(format!(
                "`{name}` is an object: use one of its fields, e.g. `{name}.{}`",
                Scope::object_fields(name).map_or("", |f| f[0].0)
            )),
            _ => {
                let mut known: Vec<&str> =
                    vec!["caller.*", "customer.*", "contact.*", "queue.*", "now"];
                known.extend(self.variables.keys().map(String::as_str));
                Err(format!(
                    "unknown variable `{name}` (known: {})",
                    known.join(", ")
                ))
            }
        }
    }
}

/// A checked expression, ready to evaluate.
#[derive(Clone)]
pub struct Expression {
    source: String,
    program: Arc<Program>,
    ty: Ty,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expression({:?}: {})", self.source, self.ty)
    }
}

impl Expression {
    /// Parses and type-checks `source` in `scope`. The error says what is wrong.
    pub fn compile(source: &str, scope: &Scope) -> Result<Expression, String> {
        let program = Program::compile(source).map_err(|e| {
            let first = e
                .errors
                .first()
                .map_or_else(|| e.to_string(), |p| p.msg.clone());
            format!("cannot parse `{source}`: {first}")
        })?;
        let ty = infer(program.expression(), scope)?;
        Ok(Expression {
            source: source.to_string(),
            program: Arc::new(program),
            ty,
        })
    }

    /// Like [`Expression::compile`], and the result must have type `want`.
    pub fn compile_as(source: &str, scope: &Scope, want: Ty) -> Result<Expression, String> {
        let e = Expression::compile(source, scope)?;
        if !e.ty.fits(want) {
            return Err(format!(
                "`{source}` is a {}, but a {want} is needed here",
                e.ty
            ));
        }
        Ok(e)
    }

    /// The static type.
    pub fn ty(&self) -> Ty {
        self.ty
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against a context built by the interpreter.
    pub fn eval(&self, context: &Context<'_, '_>) -> Result<Value, String> {
        self.program
            .execute(context)
            .map_err(|e| format!("`{}` failed: {e}", self.source))
    }
}

fn literal(v: &LiteralValue) -> Ty {
    match v {
        LiteralValue::Boolean(_) => Ty::Bool,
        LiteralValue::Int(_) | LiteralValue::UInt(_) => Ty::Int,
        LiteralValue::Double(_) => Ty::Double,
        LiteralValue::String(_) | LiteralValue::Bytes(_) => Ty::String,
        LiteralValue::Null => Ty::Null,
    }
}

/// Infers the type of an expression, refusing unknown variables and fields and operands of
/// the wrong type. Functions it does not know are left to run time (`dyn`).
fn infer(e: &IdedExpr, scope: &Scope) -> Result<Ty, String> {
    match &e.expr {
        Expr::Literal(v) => Ok(literal(v)),
        Expr::Ident(name) => scope.ident(name),
        Expr::Select(sel) => {
            if let Expr::Ident(object) = &sel.operand.expr
                && !scope.variables.contains_key(object)
                && let Some(fields) = Scope::object_fields(object)
            {
                return match fields.iter().find(|f| f.0 == sel.field) {
                    Some(&(_, t)) if sel.test => Ok(if t == Ty::Dyn { Ty::Dyn } else { Ty::Bool }),
                    Some(&(_, t)) => Ok(t),
                    None => Err(format!(
                        "`{object}` has no field `{}` (fields: {})",
                        sel.field,
                        fields.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                    )),
                };
            }
            let base = infer(&sel.operand, scope)?;
            match base {
                Ty::Map | Ty::Dyn => Ok(if sel.test { Ty::Bool } else { Ty::Dyn }),
                other => Err(format!("a {other} has no field `{}`", sel.field)),
            }
        }
        Expr::List(list) => {
            for item in &list.elements {
                infer(item, scope)?;
            }
            Ok(Ty::List)
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                if let cel::common::ast::EntryExpr::MapEntry(m) = &entry.expr {
                    infer(&m.key, scope)?;
                    infer(&m.value, scope)?;
                }
            }
            Ok(Ty::Map)
        }
        Expr::Call(call) => {
            let args = call
                .args
                .iter()
                .map(|a| infer(a, scope))
                .collect::<Result<Vec<_>, _>>()?;
            let target = call
                .target
                .as_deref()
                .map(|t| infer(t, scope))
                .transpose()?;
            operator(&call.func_name, target, &args)
        }
        // Macros (all, exists, map, filter) and struct literals: checked at run time.
        Expr::Comprehension(_) | Expr::Struct(_) | Expr::Unspecified => Ok(Ty::Dyn),
    }
}

fn operator(name: &str, target: Option<Ty>, args: &[Ty]) -> Result<Ty, String> {
    let same =
        |a: Ty, b: Ty| a.fits(b) || (a.numeric() && b.numeric()) || a == Ty::Null || b == Ty::Null;
    match (name, target, args) {
        ("_&&_" | "_||_", None, [a, b]) => {
            for t in [a, b] {
                if !t.fits(Ty::Bool) {
                    return Err(format!("`&&` and `||` need bools, not a {t}"));
                }
            }
            Ok(Ty::Bool)
        }
        ("!_", None, [a]) if a.fits(Ty::Bool) => Ok(Ty::Bool),
        ("!_", None, [a]) => Err(format!("`!` needs a bool, not a {a}")),
        ("_==_" | "_!=_", None, [a, b]) => {
            if same(*a, *b) {
                Ok(Ty::Bool)
            } else {
                Err(format!("cannot compare a {a} with a {b}"))
            }
        }
        ("_<_" | "_<=_" | "_>_" | "_>=_", None, [a, b]) => {
            let orderable = |t: Ty| {
                matches!(
                    t,
                    Ty::Int | Ty::Double | Ty::String | Ty::Timestamp | Ty::Dyn
                )
            };
            if orderable(*a) && orderable(*b) && same(*a, *b) {
                Ok(Ty::Bool)
            } else {
                Err(format!("cannot order a {a} against a {b}"))
            }
        }
        ("_+_", None, [a, b]) => match (a, b) {
            (Ty::String, Ty::String) => Ok(Ty::String),
            (Ty::List, Ty::List) => Ok(Ty::List),
            (Ty::Int, Ty::Int) => Ok(Ty::Int),
            (Ty::Double, Ty::Double) => Ok(Ty::Double),
            (Ty::Dyn, t) | (t, Ty::Dyn) => Ok(*t),
            _ => Err(format!(
                "cannot add a {a} and a {b} (convert first, e.g. string(x))"
            )),
        },
        ("_-_" | "_*_" | "_/_" | "_%_", None, [a, b]) => match (a, b) {
            (Ty::Int, Ty::Int) => Ok(Ty::Int),
            (Ty::Double, Ty::Double) => Ok(Ty::Double),
            (Ty::Dyn, t) | (t, Ty::Dyn) if t.numeric() => Ok(*t),
            _ => Err(format!(
                "arithmetic needs two ints or two doubles, not a {a} and a {b}"
            )),
        },
        ("-_", None, [a]) if a.numeric() => Ok(*a),
        ("_?_:_", None, [c, a, b]) => {
            if !c.fits(Ty::Bool) {
                return Err(format!("the condition of `? :` must be a bool, not a {c}"));
            }
            if a.fits(*b) {
                Ok(if *a == Ty::Dyn { *b } else { *a })
            } else {
                Err(format!(
                    "both sides of `? :` must have one type, not {a} and {b}"
                ))
            }
        }
        ("@in", None, [_, container]) => match container {
            Ty::List | Ty::Map | Ty::Dyn => Ok(Ty::Bool),
            other => Err(format!("`in` needs a list or a map, not a {other}")),
        },
        ("_[_]", None, [container, _]) => match container {
            Ty::List | Ty::Map | Ty::Dyn => Ok(Ty::Dyn),
            other => Err(format!("cannot index a {other}")),
        },
        ("size", None, [_]) | ("size", Some(_), []) => Ok(Ty::Int),
        ("startsWith" | "endsWith" | "contains" | "matches", Some(t), [arg]) => {
            if t.fits(Ty::String) && arg.fits(Ty::String) {
                Ok(Ty::Bool)
            } else {
                Err(format!("`{name}` works on strings, not on a {t}"))
            }
        }
        ("int", None, [_]) => Ok(Ty::Int),
        ("double", None, [_]) => Ok(Ty::Double),
        ("string", None, [_]) => Ok(Ty::String),
        ("has", None, [_]) => Ok(Ty::Bool),
        (
            "getHours" | "getMinutes" | "getDayOfWeek" | "getDayOfMonth" | "getMonth"
            | "getFullYear",
            Some(t),
            _,
        ) => {
            if t.fits(Ty::Timestamp) {
                Ok(Ty::Int)
            } else {
                Err(format!("`{name}` works on timestamps, not on a {t}"))
            }
        }
        _ => Ok(Ty::Dyn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.variables.insert("account".into(), Ty::String);
        s.variables.insert("attempts".into(), Ty::Int);
        s
    }

    #[test]
    fn well_typed_expressions() {
        let s = scope();
        for (src, ty) in [
            ("caller.country == 'FR'", Ty::Bool),
            (
                "customer.open_cases > 0 && customer.segment == 'vip'",
                Ty::Bool,
            ),
            ("size(account) == 8", Ty::Bool),
            ("customer.segment == 'vip' ? 10 : 0", Ty::Int),
            ("'Hello ' + customer.first_name", Ty::String),
            ("now.getHours() < 12", Ty::Bool),
            ("attempts + 1", Ty::Int),
            ("caller.number.startsWith('+33')", Ty::Bool),
            ("'1' in ['1', '4', '7']", Ty::Bool),
        ] {
            let e = Expression::compile(src, &s).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(e.ty(), ty, "{src}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let s = scope();
        for (src, says) in [
            ("custmer.segment == 'vip'", "unknown variable `custmer`"),
            ("customer.segmnt == 'vip'", "has no field `segmnt`"),
            (
                "customer.open_cases == 'many'",
                "cannot compare a int with a string",
            ),
            ("attempts + 'x'", "cannot add a int and a string"),
            ("caller.country &&", "cannot parse"),
            ("customer", "is an object"),
        ] {
            let e = Expression::compile(src, &s).expect_err(src);
            assert!(e.contains(says), "{src}: {e}");
        }
        let e = Expression::compile_as("customer.first_name", &s, Ty::Bool).expect_err("string");
        assert!(e.contains("a bool is needed"), "{e}");
    }
}
