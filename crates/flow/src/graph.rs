//! A checked flow as a graph of nodes and labelled links, for drawing it as a diagram.

use serde::Serialize;

use crate::check::{Action, Flow, NodeId};

/// A flow's nodes and every link between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Graph {
    /// The name of the first node.
    pub start: String,
    /// Every node, in the order of the file.
    pub nodes: Vec<GraphNode>,
    /// Every link from one node to another: `next`, menu choices, branches, hours, queue
    /// exits… (a node with several links to the same node has one edge per link).
    pub edges: Vec<Edge>,
    /// The flow-wide agent escape (`agent_escape`): a key that leads to a node from any
    /// prompt, which is no edge of any one node.
    pub escape: Option<Escape>,
}

/// A node of a [`Graph`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphNode {
    /// Its name.
    pub name: String,
    /// Its action, as written in the file: `say`, `play`, `menu`, `collect`, `branch`,
    /// `hours`, `geo`, `lookup`, `set`, `enqueue`, `transfer`, `voicemail`, `callback`,
    /// `survey`, `subflow`, `return` or `hangup`.
    pub kind: &'static str,
    /// Where its name is written in the file, 1-based (`None` when unknown).
    pub line: Option<u32>,
}

/// A link of a [`Graph`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The node it leaves.
    pub from: String,
    /// The node it leads to.
    pub to: String,
    /// What kind of link it is: `next`, `choice` (a menu key), `condition` (a branch arm),
    /// `otherwise`, `open`, `closed`, `holiday`, `country`, `failure` (retries used up,
    /// nothing found), `leave` (a key in the queue) or `max_wait`.
    pub kind: &'static str,
    /// What to write on it, e.g. `1: device problems`, `customer.found`, `open`.
    pub label: String,
}

/// The flow-wide agent escape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escape {
    /// The key.
    pub key: char,
    /// The node it leads to.
    pub to: String,
}

/// The action's keyword in the file.
fn kind(action: &Action) -> &'static str {
    match action {
        Action::Say { .. } => "say",
        Action::Play { .. } => "play",
        Action::Menu { .. } => "menu",
        Action::Collect { .. } => "collect",
        Action::Branch { .. } => "branch",
        Action::Hours { .. } => "hours",
        Action::Geo { .. } => "geo",
        Action::Lookup { .. } => "lookup",
        Action::Set { .. } => "set",
        Action::Enqueue { .. } => "enqueue",
        Action::Transfer { .. } => "transfer",
        Action::Voicemail { .. } => "voicemail",
        Action::Callback { .. } => "callback",
        Action::Survey { .. } => "survey",
        Action::Subflow { .. } => "subflow",
        Action::Return => "return",
        Action::Hangup { .. } => "hangup",
    }
}

/// The links leaving one node, as (target, kind, label).
fn links(action: &Action) -> Vec<(NodeId, &'static str, String)> {
    let next = |n: NodeId| (n, "next", "next".to_string());
    match action {
        Action::Say { next: n, .. }
        | Action::Play { next: n, .. }
        | Action::Set { next: n, .. } => vec![next(*n)],
        Action::Menu {
            options,
            on_failure,
            ..
        } => options
            .iter()
            .map(|o| {
                let mut label = format!("{}: {}", o.key, o.label);
                if let Some(w) = &o.when {
                    label.push_str(&format!(" (if {})", w.source()));
                }
                (o.next, "choice", label)
            })
            .chain(on_failure.map(|f| (f, "failure", "no valid choice".to_string())))
            .collect(),
        Action::Collect {
            next: n,
            on_failure,
            ..
        } => std::iter::once(next(*n))
            .chain(on_failure.map(|f| (f, "failure", "no valid input".to_string())))
            .collect(),
        Action::Branch { arms, otherwise } => arms
            .iter()
            .map(|(condition, to)| (*to, "condition", condition.source().to_string()))
            .chain([(*otherwise, "otherwise", "else".to_string())])
            .collect(),
        Action::Hours {
            open,
            closed,
            holiday,
            ..
        } => {
            let mut out = vec![(*open, "open", "open".to_string())];
            if holiday == closed {
                out.push((*closed, "closed", "closed or holiday".to_string()));
            } else {
                out.push((*closed, "closed", "closed".to_string()));
                out.push((*holiday, "holiday", "holiday".to_string()));
            }
            out
        }
        Action::Geo { routes, otherwise } => routes
            .iter()
            .map(|(countries, to)| (*to, "country", countries.join(", ")))
            .chain([(*otherwise, "otherwise", "else".to_string())])
            .collect(),
        Action::Lookup {
            next: n,
            on_failure,
            ..
        } => std::iter::once((*n, "next", "found".to_string()))
            .chain(on_failure.map(|f| (f, "failure", "not found".to_string())))
            .collect(),
        Action::Enqueue { experience, .. } => experience
            .leave
            .iter()
            .map(|(key, to)| (*to, "leave", format!("{key}: leave the queue")))
            .chain(experience.max_wait.iter().map(|(wait, to)| {
                (
                    *to,
                    "max_wait",
                    format!("waited {}", humantime::format_duration(*wait)),
                )
            }))
            .collect(),
        Action::Callback { next: n, .. } | Action::Survey { next: n, .. } => {
            n.iter().map(|n| next(*n)).collect()
        }
        Action::Subflow { flow, next: n } => vec![(*n, "next", format!("after {flow}"))],
        Action::Transfer { .. }
        | Action::Voicemail { .. }
        | Action::Return
        | Action::Hangup { .. } => Vec::new(),
    }
}

/// The graph of a checked flow: its nodes and every link between them.
pub fn graph(flow: &Flow) -> Graph {
    // A checked flow's links all name one of its nodes; the lookup guards anyway.
    let name = |id: NodeId| flow.nodes.get(id.0).map(|n| n.name.clone());
    let mut edges = Vec::new();
    for node in &flow.nodes {
        for (to, kind, label) in links(&node.action) {
            if let Some(to) = name(to) {
                edges.push(Edge {
                    from: node.name.clone(),
                    to,
                    kind,
                    label,
                });
            }
        }
    }
    Graph {
        start: name(flow.start).unwrap_or_default(),
        nodes: flow
            .nodes
            .iter()
            .map(|n| GraphNode {
                name: n.name.clone(),
                kind: kind(&n.action),
                line: u32::try_from(n.at.0).ok().filter(|l| *l > 0),
            })
            .collect(),
        edges,
        escape: flow
            .agent_escape
            .and_then(|(key, to)| Some(Escape { key, to: name(to)? })),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::check::check;

    fn flow(file: &str) -> Flow {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/flows");
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        check(&text, Some(&dir)).flow.unwrap()
    }

    #[test]
    fn graph_of_tech_support() {
        let f = flow("tech-support.yaml");
        let g = graph(&f);
        assert_eq!(g.start, "welcome");
        let names: BTreeSet<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names.len(), f.nodes.len());
        for n in &f.nodes {
            assert!(names.contains(n.name.as_str()), "{} missing", n.name);
        }
        for e in &g.edges {
            assert!(names.contains(e.from.as_str()), "{e:?}");
            assert!(names.contains(e.to.as_str()), "{e:?}");
        }
        let node = |name: &str| g.nodes.iter().find(|n| n.name == name).unwrap();
        assert_eq!(
            (node("welcome").kind, node("welcome").line),
            ("say", Some(9))
        );
        assert_eq!(node("main-menu").kind, "menu");
        assert_eq!(node("known-caller").kind, "branch");
        assert_eq!(node("ask-account").kind, "collect");
        assert_eq!(node("devices").kind, "enqueue");
        let from = |name: &str| -> Vec<(&str, &str, &str)> {
            g.edges
                .iter()
                .filter(|e| e.from == name)
                .map(|e| (e.to.as_str(), e.kind, e.label.as_str()))
                .collect()
        };
        assert_eq!(
            from("main-menu"),
            vec![
                ("devices", "choice", "1: device problems"),
                ("network", "choice", "2: network troubleshooting"),
                ("orders", "choice", "3: orders"),
                ("agent", "choice", "0: agent"),
                ("agent", "failure", "no valid choice"),
            ]
        );
        assert_eq!(
            from("known-caller"),
            vec![
                ("greet", "condition", "customer.found"),
                ("ask-account", "otherwise", "else"),
            ]
        );
        assert_eq!(
            from("ask-account"),
            vec![
                ("main-menu", "next", "next"),
                ("main-menu", "failure", "no valid input")
            ]
        );
        assert_eq!(from("welcome"), vec![("known-caller", "next", "next")]);
        assert!(from("devices").is_empty());
        assert_eq!(
            g.escape,
            Some(Escape {
                key: '0',
                to: "agent".into()
            })
        );
    }

    #[test]
    fn graph_links_hours_geo_and_queue_exits() {
        let text = "id: g\nversion: 1\nstart: when\ncalendars:\n  office:\n    timezone: UTC\n    hours:\n      mon-fri: 09:00-17:00\nnodes:\n  when:\n    hours:\n      calendar: office\n      open: where\n      closed: bye\n  where:\n    geo:\n      routes:\n        - { countries: [FR, BE], next: wait }\n      otherwise: wait\n  wait:\n    enqueue:\n      queue: support\n      leave: { key: \"9\", next: bye }\n      max_wait: 5m\n      on_max_wait: bye\n  bye:\n    hangup: {}\n";
        let checked = check(text, None);
        let f = checked
            .flow
            .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
        let g = graph(&f);
        let links: Vec<(&str, &str, &str, &str)> = g
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str(), e.kind, e.label.as_str()))
            .collect();
        assert_eq!(
            links,
            vec![
                ("when", "where", "open", "open"),
                ("when", "bye", "closed", "closed or holiday"),
                ("where", "wait", "country", "FR, BE"),
                ("where", "wait", "otherwise", "else"),
                ("wait", "bye", "leave", "9: leave the queue"),
                ("wait", "bye", "max_wait", "waited 5m"),
            ]
        );
        assert_eq!(g.escape, None);
    }

    #[test]
    fn graph_of_every_example_links_known_nodes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/flows");
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let Some(f) = check(&text, Some(&dir)).flow else {
                continue;
            };
            let g = graph(&f);
            assert_eq!(g.nodes.len(), f.nodes.len());
            assert!(g.nodes.iter().any(|n| n.name == g.start));
            for e in &g.edges {
                assert!(g.nodes.iter().any(|n| n.name == e.to), "{path:?}: {e:?}");
            }
            assert!(g.nodes.iter().all(|n| n.line.is_some()), "{path:?}");
        }
    }
}
