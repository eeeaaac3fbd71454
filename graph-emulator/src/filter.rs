//! The subset of OData `$filter` that Graph serves on `/users`, with Graph's per-property
//! support table (default vs. advanced query) and its case-insensitive string comparison.
//!
//! Support levels follow "Advanced query capabilities on directory objects"
//! (<https://learn.microsoft.com/graph/aad-advanced-queries>), table "Support for filter by
//! properties of Microsoft Entra ID (directory) objects", user rows.

use crate::error::GraphError;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Bool(bool),
    Null,
    /// Unquoted tokens such as numbers and dates (`2021-11-01`), compared as text.
    Raw(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Ge,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrFn {
    StartsWith,
    EndsWith,
}

/// What a comparison looks at: a property of the user, or the range variable of a lambda.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Prop(String),
    Var,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Target, CmpOp, Lit),
    In(Target, Vec<Lit>),
    Func(StrFn, Target, String),
    /// `prop/any(v: body)`; `all` is not served on directory objects.
    Any(String, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Default,
    Advanced,
    No,
}

use Level::{Advanced as A, Default as D, No as N};

/// Per-property support: eq, ne, ge, le, in, startsWith, eq-null; plus whether it is a
/// string collection (filtered through `any`).
struct Caps {
    name: &'static str,
    eq: Level,
    ne: Level,
    ge: Level,
    le: Level,
    in_: Level,
    starts: Level,
    null: Level,
    collection: bool,
}

const fn c(name: &'static str, l: [Level; 7], collection: bool) -> Caps {
    Caps {
        name,
        eq: l[0],
        ne: l[1],
        ge: l[2],
        le: l[3],
        in_: l[4],
        starts: l[5],
        null: l[6],
        collection,
    }
}

// Columns: eq, ne, ge, le, in, startsWith, null. `in` follows eq where eq is default
// ("The in operator is supported by default whenever eq operator is supported by default").
static CAPS: &[Caps] = &[
    c("accountEnabled", [D, A, A, A, D, N, N], false),
    c("ageGroup", [D, A, N, N, D, N, N], false),
    c("businessPhones", [D, N, N, N, N, N, N], true),
    c("city", [D, A, D, N, D, D, A], false),
    c("companyName", [A, A, A, A, A, A, A], false),
    c("consentProvidedForMinor", [D, A, N, N, D, N, N], false),
    c("country", [D, A, D, D, D, D, A], false),
    c("createdDateTime", [D, A, D, D, D, N, N], false),
    c("creationType", [D, A, N, N, D, N, N], false),
    c("department", [D, A, D, D, D, D, A], false),
    c("displayName", [D, A, N, N, D, D, A], false),
    c("employeeHireDate", [A, A, A, A, A, N, N], false),
    c("employeeId", [D, A, N, A, D, D, A], false),
    c("employeeType", [A, A, A, A, A, A, N], false),
    c("givenName", [D, A, D, D, D, D, A], false),
    c("id", [D, A, N, N, D, N, N], false),
    c("imAddresses", [D, A, D, D, N, D, N], true),
    c("jobTitle", [D, A, D, D, D, N, A], false),
    c("mail", [D, A, D, D, D, D, N], false),
    c("mailNickname", [D, A, D, D, D, D, A], false),
    c("mobilePhone", [A, A, A, A, A, A, A], false),
    c("officeLocation", [A, A, A, A, A, A, A], false),
    c("onPremisesImmutableId", [A, A, A, A, A, N, N], false),
    c("onPremisesLastSyncDateTime", [A, A, A, A, A, N, N], false),
    c("onPremisesSamAccountName", [A, A, A, A, A, A, N], false),
    c("onPremisesSecurityIdentifier", [D, A, N, N, D, N, A], false),
    c("onPremisesSyncEnabled", [D, A, A, A, D, N, N], false),
    c("onPremisesUserPrincipalName", [D, A, D, D, D, D, N], false),
    c("otherMails", [D, A, D, D, D, D, N], true),
    c("passwordPolicies", [A, A, N, N, N, N, A], false),
    c("postalCode", [A, A, A, A, A, A, A], false),
    c("preferredLanguage", [A, A, A, A, A, A, A], false),
    c("proxyAddresses", [D, A, D, D, N, D, A], true),
    c("showInAddressList", [A, A, A, A, A, N, N], false),
    c("state", [D, A, D, D, D, D, A], false),
    c("streetAddress", [A, A, A, A, A, A, A], false),
    c("surname", [D, A, D, D, D, D, A], false),
    c("usageLocation", [D, A, D, D, D, D, N], false),
    c("userPrincipalName", [D, A, N, D, D, D, N], false),
    c("userType", [D, A, N, N, D, N, A], false),
];

/// `endsWith` is served only as an advanced query, and only on these properties.
const ENDSWITH_PROPS: &[&str] = &["mail", "otherMails", "userPrincipalName", "proxyAddresses"];

// The group rows of the same table (eq on displayName, mail, mailNickname, proxyAddresses
// through any(), the flags and the on-premises anchors by default).
static GROUP_CAPS: &[Caps] = &[
    c("classification", [D, A, D, D, D, D, A], false),
    c("createdDateTime", [A, A, A, A, A, N, A], false),
    c("description", [A, A, A, A, A, D, A], false),
    c("displayName", [D, A, D, D, D, D, A], false),
    c("groupTypes", [D, A, N, N, D, N, A], true),
    c("id", [D, A, D, D, D, N, N], false),
    c("isAssignableToRole", [D, A, D, D, D, N, A], false),
    c("mail", [D, A, D, D, D, D, A], false),
    c("mailEnabled", [D, A, D, D, D, N, N], false),
    c("mailNickname", [D, A, D, D, D, D, A], false),
    c("membershipRule", [A, A, A, A, A, A, A], false),
    c("onPremisesSamAccountName", [D, A, D, D, D, D, A], false),
    c("onPremisesSecurityIdentifier", [D, A, D, D, D, N, A], false),
    c("onPremisesSyncEnabled", [D, A, D, D, D, N, A], false),
    c("proxyAddresses", [D, A, D, D, N, D, A], true),
    c("securityEnabled", [D, A, N, N, D, N, A], false),
];

/// Which resource's support table a filter is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
}

impl Resource {
    fn table(self) -> &'static [Caps] {
        match self {
            Resource::User => CAPS,
            Resource::Group => GROUP_CAPS,
        }
    }
}

fn caps(name: &str) -> Option<&'static Caps> {
    caps_in(CAPS, name)
}

fn caps_in(table: &'static [Caps], name: &str) -> Option<&'static Caps> {
    table.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// Canonical (Graph-cased) property name, if the property is filterable at all.
pub fn canonical(name: &str) -> Option<&'static str> {
    caps(name).map(|c| c.name)
}

// ---------------------------------------------------------------- tokenizer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Colon,
}

fn syntax(input: &str, pos: usize) -> GraphError {
    // Graph (the OData library) answers malformed filters with code BadRequest.
    GraphError::new(
        400,
        "BadRequest",
        format!("Invalid filter clause: Syntax error at position {pos} in '{input}'."),
    )
}

/// How deep parentheses, `not` and lambdas may nest, and how many `and`/`or`/`not`/`any`
/// operators a filter may hold (a left-deep `a and b and …` chain is as tall as it is long).
/// Unbounded, a crafted filter overflowed a worker's stack and aborted the emulator. Graph
/// itself refuses directory filters taller than 3 ("search filter expression has excessive
/// height", microsoftgraph/microsoft-graph-docs#3641), so these only stop abuse; the depth is
/// small because a debug build spends ~10 KB of stack per parenthesis level.
pub const MAX_DEPTH: usize = 32;
pub const MAX_OPERATORS: usize = 64;

fn too_deep() -> GraphError {
    // The OData library Graph parses `$filter` with refuses deep filters with this message
    // (`ODataUriParserSettings` filter limit, "Recursion depth exceeded allowed limit.").
    GraphError::new(
        400,
        "BadRequest",
        "Invalid filter clause: Recursion depth exceeded allowed limit.",
    )
}

/// Every `chars[i]` below is guarded by `i < chars.len()` (the loop conditions).
fn tokenize(input: &str) -> Result<Vec<(usize, Tok)>, GraphError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        match ch {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            ',' => {
                out.push((i, Tok::Comma));
                i += 1;
            }
            ':' => {
                out.push((i, Tok::Colon));
                i += 1;
            }
            '\'' => {
                let start = i;
                i += 1;
                let mut s = String::new();
                loop {
                    if i >= chars.len() {
                        return Err(syntax(input, start));
                    }
                    if chars[i] == '\'' {
                        // OData escapes a quote by doubling it.
                        if i + 1 < chars.len() && chars[i + 1] == '\'' {
                            s.push('\'');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                out.push((start, Tok::Str(s)));
            }
            _ => {
                let start = i;
                let mut s = String::new();
                while i < chars.len() {
                    let c = chars[i];
                    if c.is_whitespace() || matches!(c, '(' | ')' | ',' | ':' | '\'') {
                        break;
                    }
                    s.push(c);
                    i += 1;
                }
                out.push((start, Tok::Ident(s)));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- parser

struct Parser<'a> {
    input: &'a str,
    toks: Vec<(usize, Tok)>,
    pos: usize,
    /// The range variable of the enclosing lambda, if any.
    var: Option<String>,
    /// Parentheses, `not`s and lambdas open around `pos`.
    depth: usize,
    /// `and`, `or`, `not` and `any` nodes built so far.
    operators: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn here(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|(p, _)| *p)
            .unwrap_or(self.input.chars().count())
    }

    fn err(&self) -> GraphError {
        syntax(self.input, self.here())
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }

    fn expect(&mut self, t: Tok) -> Result<(), GraphError> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    /// Enters one level of nesting; [`Parser::leave`] leaves it.
    fn enter(&mut self) -> Result<(), GraphError> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Counts one operator node about to be built.
    fn operator(&mut self) -> Result<(), GraphError> {
        if self.operators >= MAX_OPERATORS {
            return Err(too_deep());
        }
        self.operators += 1;
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr, GraphError> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            self.pos += 1;
            self.operator()?;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, GraphError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            self.operator()?;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, GraphError> {
        if self.keyword("not") {
            self.pos += 1;
            self.operator()?;
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn target(&self, name: &str) -> Target {
        match &self.var {
            Some(v) if v == name => Target::Var,
            _ => Target::Prop(name.to_string()),
        }
    }

    fn literal(&mut self) -> Result<Lit, GraphError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Ident(s)) => Ok(match s.to_ascii_lowercase().as_str() {
                "true" => Lit::Bool(true),
                "false" => Lit::Bool(false),
                "null" => Lit::Null,
                _ => {
                    if s.chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit() || c == '-')
                    {
                        Lit::Raw(s)
                    } else {
                        self.pos -= 1;
                        return Err(self.err());
                    }
                }
            }),
            _ => {
                self.pos = self.pos.saturating_sub(1);
                Err(self.err())
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, GraphError> {
        match self.next() {
            Some(Tok::LParen) => {
                self.enter()?;
                let e = self.or_expr()?;
                self.expect(Tok::RParen)?;
                self.leave();
                Ok(e)
            }
            Some(Tok::Ident(name)) => {
                let lower = name.to_ascii_lowercase();
                if (lower == "startswith" || lower == "endswith")
                    && self.peek() == Some(&Tok::LParen)
                {
                    self.pos += 1;
                    let target = match self.next() {
                        Some(Tok::Ident(p)) => self.target(&p),
                        _ => {
                            self.pos -= 1;
                            return Err(self.err());
                        }
                    };
                    self.expect(Tok::Comma)?;
                    let value = match self.next() {
                        Some(Tok::Str(s)) => s,
                        _ => {
                            self.pos -= 1;
                            return Err(self.err());
                        }
                    };
                    self.expect(Tok::RParen)?;
                    let f = if lower == "startswith" {
                        StrFn::StartsWith
                    } else {
                        StrFn::EndsWith
                    };
                    return Ok(Expr::Func(f, target, value));
                }
                if let Some((prop, lambda)) = name.split_once('/') {
                    let lambda_lower = lambda.to_ascii_lowercase();
                    if lambda_lower != "any" && lambda_lower != "all" {
                        self.pos -= 1;
                        return Err(self.err());
                    }
                    if lambda_lower == "all" {
                        return Err(GraphError::unsupported_query(format!(
                            "Unsupported query operator 'all' for property '{prop}'."
                        )));
                    }
                    self.expect(Tok::LParen)?;
                    let var = match self.next() {
                        Some(Tok::Ident(v)) => v,
                        _ => {
                            self.pos -= 1;
                            return Err(self.err());
                        }
                    };
                    self.expect(Tok::Colon)?;
                    let saved = self.var.replace(var);
                    self.operator()?;
                    self.enter()?;
                    let body = self.or_expr()?;
                    self.leave();
                    self.var = saved;
                    self.expect(Tok::RParen)?;
                    return Ok(Expr::Any(prop.to_string(), Box::new(body)));
                }
                let target = self.target(&name);
                let op = match self.next() {
                    Some(Tok::Ident(op)) => op.to_ascii_lowercase(),
                    _ => {
                        self.pos = self.pos.saturating_sub(1);
                        return Err(self.err());
                    }
                };
                let op = match op.as_str() {
                    "eq" => CmpOp::Eq,
                    "ne" => CmpOp::Ne,
                    "ge" => CmpOp::Ge,
                    "le" => CmpOp::Le,
                    "gt" | "lt" => {
                        return Err(GraphError::unsupported_query(format!(
                            "Unsupported query operator '{op}'."
                        )));
                    }
                    "in" => {
                        self.expect(Tok::LParen)?;
                        let mut values = vec![self.literal()?];
                        while self.peek() == Some(&Tok::Comma) {
                            self.pos += 1;
                            values.push(self.literal()?);
                        }
                        self.expect(Tok::RParen)?;
                        return Ok(Expr::In(target, values));
                    }
                    _ => {
                        self.pos -= 1;
                        return Err(self.err());
                    }
                };
                let lit = self.literal()?;
                Ok(Expr::Cmp(target, op, lit))
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                Err(self.err())
            }
        }
    }
}

/// Parses a `$filter` value and checks it against Graph's support table.
/// `advanced` is true when the request carries `ConsistencyLevel: eventual` and `$count=true`.
pub fn parse(input: &str, advanced: bool) -> Result<Expr, GraphError> {
    parse_for(Resource::User, input, advanced)
}

/// [`parse`] for another resource's collection.
pub fn parse_for(resource: Resource, input: &str, advanced: bool) -> Result<Expr, GraphError> {
    let table = resource.table();
    let toks = tokenize(input)?;
    if toks.is_empty() {
        return Err(syntax(input, 0));
    }
    let mut p = Parser {
        input,
        toks,
        pos: 0,
        var: None,
        depth: 0,
        operators: 0,
    };
    let e = p.or_expr()?;
    if p.pos != p.toks.len() {
        return Err(p.err());
    }
    let e = canonicalize(table, e)?;
    check(table, &e, advanced, None)?;
    Ok(e)
}

/// Rewrites property names to Graph's casing; unknown properties are refused as Graph does.
fn canonicalize(table: &'static [Caps], e: Expr) -> Result<Expr, GraphError> {
    let fix = |t: Target| -> Result<Target, GraphError> {
        match t {
            Target::Prop(p) => caps_in(table, &p)
                .map(|c| Target::Prop(c.name.to_string()))
                .ok_or_else(|| GraphError::unsupported_filter_property(&p)),
            Target::Var => Ok(Target::Var),
        }
    };
    Ok(match e {
        Expr::And(a, b) => Expr::And(
            Box::new(canonicalize(table, *a)?),
            Box::new(canonicalize(table, *b)?),
        ),
        Expr::Or(a, b) => Expr::Or(
            Box::new(canonicalize(table, *a)?),
            Box::new(canonicalize(table, *b)?),
        ),
        Expr::Not(a) => Expr::Not(Box::new(canonicalize(table, *a)?)),
        Expr::Cmp(t, op, l) => Expr::Cmp(fix(t)?, op, l),
        Expr::In(t, v) => Expr::In(fix(t)?, v),
        Expr::Func(f, t, s) => Expr::Func(f, fix(t)?, s),
        Expr::Any(p, body) => {
            let name = caps_in(table, &p)
                .map(|c| c.name)
                .ok_or_else(|| GraphError::unsupported_filter_property(&p))?;
            Expr::Any(name.to_string(), Box::new(canonicalize(table, *body)?))
        }
    })
}

fn require(level: Level, advanced: bool, op: &str, prop: &str) -> Result<(), GraphError> {
    match level {
        Level::Default => Ok(()),
        Level::Advanced if advanced => Ok(()),
        Level::Advanced if op == "eq" => Err(GraphError::unsupported_filter_property(prop)),
        Level::Advanced => Err(GraphError::needs_advanced_query(op)),
        Level::No => Err(GraphError::unsupported_filter_property(prop)),
    }
}

/// `lambda` is the collection property whose element the range variable stands for.
fn check(
    table: &'static [Caps],
    e: &Expr,
    advanced: bool,
    lambda: Option<&str>,
) -> Result<(), GraphError> {
    let resolve = |t: &Target| -> Result<(&'static Caps, bool), GraphError> {
        match t {
            Target::Prop(p) => {
                let c =
                    caps_in(table, p).ok_or_else(|| GraphError::unsupported_filter_property(p))?;
                Ok((c, false))
            }
            Target::Var => {
                let p = lambda.unwrap_or("");
                let c =
                    caps_in(table, p).ok_or_else(|| GraphError::unsupported_filter_property(p))?;
                Ok((c, true))
            }
        }
    };
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            check(table, a, advanced, lambda)?;
            check(table, b, advanced, lambda)
        }
        Expr::Not(a) => {
            if !advanced {
                return Err(GraphError::needs_advanced_query("not"));
            }
            check(table, a, advanced, lambda)
        }
        Expr::Cmp(t, op, lit) => {
            let (c, via_var) = resolve(t)?;
            // A collection is compared only element-wise inside any().
            if c.collection != via_var {
                return Err(GraphError::unsupported_filter_property(c.name));
            }
            if *lit == Lit::Null {
                return require(c.null, advanced, "eq", c.name).and_then(|_| match op {
                    CmpOp::Eq => Ok(()),
                    CmpOp::Ne => require(c.ne, advanced, "ne", c.name),
                    _ => Err(GraphError::unsupported_filter_property(c.name)),
                });
            }
            match op {
                CmpOp::Eq => require(c.eq, advanced, "eq", c.name),
                CmpOp::Ne => require(c.ne, advanced, "ne", c.name),
                CmpOp::Ge => require(c.ge, advanced, "ge", c.name),
                CmpOp::Le => require(c.le, advanced, "le", c.name),
            }
        }
        Expr::In(t, _) => {
            let (c, via_var) = resolve(t)?;
            if c.collection != via_var {
                return Err(GraphError::unsupported_filter_property(c.name));
            }
            let level = if c.eq == Level::Default {
                Level::Default
            } else {
                c.in_
            };
            require(level, advanced, "in", c.name)
        }
        Expr::Func(f, t, _) => {
            let (c, via_var) = resolve(t)?;
            if c.collection != via_var {
                return Err(GraphError::unsupported_filter_property(c.name));
            }
            match f {
                StrFn::StartsWith => require(c.starts, advanced, "startsWith", c.name),
                StrFn::EndsWith => {
                    if !ENDSWITH_PROPS.contains(&c.name) {
                        return Err(GraphError::unsupported_filter_property(c.name));
                    }
                    require(Level::Advanced, advanced, "endsWith", c.name)
                }
            }
        }
        Expr::Any(p, body) => {
            let c = caps_in(table, p).ok_or_else(|| GraphError::unsupported_filter_property(p))?;
            if !c.collection || lambda.is_some() {
                return Err(GraphError::unsupported_filter_property(p));
            }
            check(table, body, advanced, Some(c.name))
        }
    }
}

// ---------------------------------------------------------------- evaluation

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn lit_text(l: &Lit) -> Option<String> {
    match l {
        Lit::Str(s) | Lit::Raw(s) => Some(lower(s)),
        Lit::Bool(b) => Some(b.to_string()),
        Lit::Null => None,
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(lower(s)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Directory string comparisons ignore case (UPNs, mail and proxy addresses included).
fn cmp_values(v: Option<&Value>, op: CmpOp, lit: &Lit) -> bool {
    let actual = v.and_then(value_text);
    if *lit == Lit::Null {
        return match op {
            CmpOp::Eq => actual.is_none(),
            CmpOp::Ne => actual.is_some(),
            _ => false,
        };
    }
    let want = lit_text(lit);
    match (actual, want) {
        (Some(a), Some(w)) => match op {
            CmpOp::Eq => a == w,
            CmpOp::Ne => a != w,
            CmpOp::Ge => a >= w,
            CmpOp::Le => a <= w,
        },
        (None, Some(_)) => op == CmpOp::Ne,
        _ => false,
    }
}

fn str_fn(v: Option<&Value>, f: StrFn, arg: &str) -> bool {
    let Some(Value::String(s)) = v else {
        return false;
    };
    let s = lower(s);
    let a = lower(arg);
    match f {
        StrFn::StartsWith => s.starts_with(&a),
        StrFn::EndsWith => s.ends_with(&a),
    }
}

/// Evaluates `e` on a user object; `elem` is the current element inside `any()`.
pub fn eval(e: &Expr, user: &Map<String, Value>, elem: Option<&Value>) -> bool {
    let get = |t: &Target| -> Option<&Value> {
        match t {
            Target::Prop(p) => user.get(p.as_str()),
            Target::Var => elem,
        }
    };
    match e {
        Expr::And(a, b) => eval(a, user, elem) && eval(b, user, elem),
        Expr::Or(a, b) => eval(a, user, elem) || eval(b, user, elem),
        Expr::Not(a) => !eval(a, user, elem),
        Expr::Cmp(t, op, lit) => cmp_values(get(t), *op, lit),
        Expr::In(t, values) => values.iter().any(|l| cmp_values(get(t), CmpOp::Eq, l)),
        Expr::Func(f, t, arg) => str_fn(get(t), *f, arg),
        Expr::Any(p, body) => match user.get(p.as_str()) {
            Some(Value::Array(items)) => items.iter().any(|item| eval(body, user, Some(item))),
            _ => false,
        },
    }
}

/// Index lookups that can answer `e` without a scan; `None` means "scan".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Id(String),
    Upn(String),
    ImmutableId(String),
    /// A proxy address including its `smtp:` prefix.
    Proxy(String),
}

/// A superset of the users matching `e`, as index lookups, when `e` allows it.
pub fn lookups(e: &Expr) -> Option<Vec<Lookup>> {
    match e {
        Expr::Cmp(Target::Prop(p), CmpOp::Eq, Lit::Str(s)) => match p.as_str() {
            "id" => Some(vec![Lookup::Id(s.clone())]),
            "userPrincipalName" => Some(vec![Lookup::Upn(s.clone())]),
            "onPremisesImmutableId" => Some(vec![Lookup::ImmutableId(s.clone())]),
            _ => None,
        },
        Expr::In(Target::Prop(p), values) if p == "id" || p == "userPrincipalName" => values
            .iter()
            .map(|v| match v {
                Lit::Str(s) if p == "id" => Some(Lookup::Id(s.clone())),
                Lit::Str(s) => Some(Lookup::Upn(s.clone())),
                _ => None,
            })
            .collect(),
        Expr::Any(p, body) if p == "proxyAddresses" => match body.as_ref() {
            Expr::Cmp(Target::Var, CmpOp::Eq, Lit::Str(s)) => Some(vec![Lookup::Proxy(s.clone())]),
            _ => None,
        },
        Expr::Or(a, b) => {
            let mut l = lookups(a)?;
            l.extend(lookups(b)?);
            Some(l)
        }
        Expr::And(a, b) => lookups(a).or_else(|| lookups(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Map<String, Value> {
        json!({
            "id": "1", "userPrincipalName": "Adam@Example.com", "mail": "adam@example.com",
            "accountEnabled": true, "proxyAddresses": ["SMTP:adam@example.com", "smtp:a@example.net"],
            "displayName": "Adam O'Neil"
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn run(f: &str, advanced: bool) -> Result<bool, GraphError> {
        parse(f, advanced).map(|e| eval(&e, &user(), None))
    }

    #[test]
    fn forms() {
        assert!(run("userPrincipalName eq 'adam@example.com'", false).unwrap());
        assert!(run("accountEnabled eq true", false).unwrap());
        assert!(!run("accountEnabled eq false", false).unwrap());
        assert!(run("startswith(displayName,'adam o''n')", false).unwrap());
        assert!(run("proxyAddresses/any(p:p eq 'smtp:A@example.net')", false).unwrap());
        assert!(run("proxyAddresses/any (x: startsWith(x, 'SMTP:adam'))", false).unwrap());
        assert!(
            run(
                "mail eq 'x' or (id eq '1' and accountEnabled eq true)",
                false
            )
            .unwrap()
        );
        assert!(run("userPrincipalName in ('x@y', 'adam@example.com')", false).unwrap());
        assert!(run("endsWith(mail,'@EXAMPLE.com')", true).unwrap());
        assert!(run("NOT (mail eq 'x')", true).unwrap());
    }

    #[test]
    fn support_table() {
        assert_eq!(
            run("mail ne 'x'", false).unwrap_err().code,
            "Request_UnsupportedQuery"
        );
        assert!(
            run("endsWith(mail,'x')", false)
                .unwrap_err()
                .message
                .contains("endsWith")
        );
        assert!(run("onPremisesImmutableId eq 'x'", false).is_err());
        assert!(!run("onPremisesImmutableId eq 'x'", true).unwrap());
        assert!(run("startswith(jobTitle,'x')", true).is_err());
        assert!(run("proxyAddresses eq 'x'", false).is_err());
        assert!(
            run("foo eq 'x'", false)
                .unwrap_err()
                .message
                .contains("'foo'")
        );
        assert_eq!(run("mail eq", false).unwrap_err().code, "BadRequest");
        assert_eq!(run("(mail eq 'x'", false).unwrap_err().code, "BadRequest");
    }

    /// Runs `f` on a thread with a small stack, as a stand-in for a server worker's: unbounded
    /// recursion over deep input aborts the whole process there.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn deep_or_long_filters_get_graphs_400_not_a_crash() {
        let nested = |n: usize| format!("{}mail eq 'x'{}", "(".repeat(n), ")".repeat(n));
        let nots = |n: usize| format!("{}(mail eq 'x')", "not ".repeat(n));
        let chain = |n: usize| vec!["mail eq 'x'"; n].join(" and ");
        // At the limits, still served (a server worker's stack is 2 MiB; this one is half).
        let (a, b, c) = (
            nested(MAX_DEPTH),
            nots(MAX_DEPTH - 1),
            chain(MAX_OPERATORS + 1),
        );
        on_small_stack(move || {
            assert!(run(&a, false).is_ok());
            assert!(run(&b, true).is_ok());
            assert!(run(&c, false).is_ok());
        });
        for hostile in [
            nested(MAX_DEPTH + 1),
            nested(2_000),
            nots(100_000),
            chain(100_000),
            vec!["mail eq 'x'"; 100_000].join(" or "),
            format!(
                "proxyAddresses/any(p:{}p eq 'x'{})",
                "(".repeat(5_000),
                ")".repeat(5_000)
            ),
        ] {
            let e = on_small_stack(move || run(&hostile, true).unwrap_err());
            assert_eq!((e.status, e.code.as_str()), (400, "BadRequest"), "{e:?}");
            assert!(e.message.contains("Recursion depth"), "{}", e.message);
        }
    }
}
