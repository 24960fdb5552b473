//! A briefing's lists of papers (those it carried, and those its size cap
//! left out), each kept as one JSON text in one row.
//!
//! A row per paper cost PostgreSQL a 24-byte header, an item pointer and
//! two index entries for each of the dozen papers a reader gets a day:
//! 1.3 KB a reader a day, kept as long as the briefing. One text per list
//! costs what its numbers and topic names do.
//!
//! A list is `[[topic, [entry, …]], …]`: runs of consecutive papers under
//! one topic, in the briefing's order, so a topic's name is written once
//! per run. A paper's entry is `[paper id, version]` (version `null`: the
//! latest); a left-out paper's `[paper id, [words that matched, …]]`.
//! Queries expand a list into rows with [`Store::list_papers`], so the
//! papers are joined in SQL as before; papers are never deleted, so a list
//! needs no foreign key.

use serde::Serialize;

use super::{Backend, Store};

/// `entries` (each under its topic, in order) as a packed list.
pub(super) fn pack<'a, E: Serialize>(entries: impl IntoIterator<Item = (&'a str, E)>) -> String {
    let mut runs: Vec<(&str, Vec<E>)> = Vec::new();
    for (topic, entry) in entries {
        match runs.last_mut() {
            Some((run_topic, run)) if *run_topic == topic => run.push(entry),
            _ => runs.push((topic, vec![entry])),
        }
    }
    serde_json::to_string(&runs).expect("numbers and strings serialise")
}

impl Store {
    /// `FROM` items expanding the packed list in `column` into a row per
    /// entry, each joined to its paper `p`: `t` is the entry's run
    /// (`t.value ->> 0` the topic) and `e` the entry (`e.value -> 1` or
    /// `->> 1` what it holds beside the paper's id); `ORDER BY t.key, e.key`
    /// keeps the list's order. The JSON operators read alike on both
    /// backends; only the functions that expand differ.
    pub(super) fn list_papers(&self, column: &str) -> String {
        let expand = match self.backend {
            Backend::Sqlite => format!("json_each({column}) AS t, json_each(t.value, '$[1]') AS e"),
            Backend::Postgres => format!(
                "json_array_elements(CAST({column} AS json)) WITH ORDINALITY AS t(value, key), \
                 json_array_elements(t.value -> 1) WITH ORDINALITY AS e(value, key)"
            ),
        };
        format!("{expand} JOIN papers p ON p.id = CAST(e.value ->> 0 AS BIGINT)")
    }
}

#[cfg(test)]
mod tests {
    use super::pack;

    #[test]
    fn a_topic_is_written_once_per_run_and_the_order_is_kept() {
        let entries = [
            ("vision", (1, Some(2))),
            ("vision", (5, None)),
            ("graphs", (3, Some(1))),
            ("vision", (4, None)),
        ];
        assert_eq!(
            pack(entries.iter().map(|(t, e)| (*t, *e))),
            r#"[["vision",[[1,2],[5,null]]],["graphs",[[3,1]]],["vision",[[4,null]]]]"#
        );
        assert_eq!(pack(std::iter::empty::<(&str, i64)>()), "[]");
    }
}
