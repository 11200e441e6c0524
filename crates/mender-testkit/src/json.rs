//! Lookups in JSON answers that tests repeat: the element of a list with a given field value,
//! and one string field of every element.

use serde_json::Value;

/// The first element of the JSON array `list` whose `key` equals `value`; panics (with the
/// list) when `list` is not an array or has no such element.
pub fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[key] == value))
        .unwrap_or_else(|| panic!("no element with {key} = {value:?} in {list}"))
}

/// The string `key` of every element of the JSON array `list`, in order; panics when `list`
/// is not an array or an element's `key` is not a string.
pub fn strings(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|item| {
            item[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} is not a string in {item}"))
                .to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_and_collects() {
        let list = json!([{"name": "a", "v": 1}, {"name": "b", "v": 2}, {"name": "b", "v": 3}]);
        assert_eq!(find(&list, "name", "b")["v"], 2);
        assert_eq!(strings(&list, "name"), ["a", "b", "b"]);
        assert!(strings(&json!([]), "name").is_empty());
    }

    #[test]
    #[should_panic(expected = "no element with name = \"c\"")]
    fn find_says_what_is_missing() {
        find(&json!([{"name": "a"}]), "name", "c");
    }
}
