//! A user's roster (RFC 6121 §2) with versioning (§2.6): items, their
//! subscription states, and the `jabber:iq:roster` elements.

use sxmpp::condition::StanzaErrorCondition;
use sxmpp::xml::Element;

pub(crate) const NS: &str = "jabber:iq:roster";

/// RFC 6121 §2.1.2.5.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Subscription {
    #[default]
    None,
    /// The user sees the contact's presence.
    To,
    /// The contact sees the user's presence.
    From,
    Both,
}

impl Subscription {
    fn as_str(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
        }
    }

    pub(crate) fn with_to(self, on: bool) -> Subscription {
        match (self, on) {
            (Subscription::None | Subscription::To, true) => Subscription::To,
            (Subscription::From | Subscription::Both, true) => Subscription::Both,
            (Subscription::None | Subscription::To, false) => Subscription::None,
            (Subscription::From | Subscription::Both, false) => Subscription::From,
        }
    }

    pub(crate) fn with_from(self, on: bool) -> Subscription {
        match (self, on) {
            (Subscription::None | Subscription::From, true) => Subscription::From,
            (Subscription::To | Subscription::Both, true) => Subscription::Both,
            (Subscription::None | Subscription::From, false) => Subscription::None,
            (Subscription::To | Subscription::Both, false) => Subscription::To,
        }
    }

    pub(crate) fn has_to(self) -> bool {
        matches!(self, Subscription::To | Subscription::Both)
    }

    pub(crate) fn has_from(self) -> bool {
        matches!(self, Subscription::From | Subscription::Both)
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Item {
    pub(crate) jid: String,
    pub(crate) name: Option<String>,
    pub(crate) subscription: Subscription,
    /// A subscription request of the user's waits for the contact.
    pub(crate) ask: bool,
    pub(crate) groups: Vec<String>,
}

impl Item {
    pub(crate) fn to_element(&self, removed: bool) -> Element {
        let mut item = Element::new("item", NS);
        let _ = item.set_attr("jid", self.jid.clone());
        if removed {
            let _ = item.set_attr("subscription", "remove");
            return item;
        }
        if let Some(name) = &self.name {
            let _ = item.set_attr("name", name.clone());
        }
        let _ = item.set_attr("subscription", self.subscription.as_str());
        if self.ask {
            let _ = item.set_attr("ask", "subscribe");
        }
        for group in &self.groups {
            if let Ok(child) = Element::new("group", NS).with_text(group) {
                item.append_child(child);
            }
        }
        item
    }
}

/// The items, and the version each change bumps.
#[derive(Debug, Default)]
pub(crate) struct Roster {
    items: Vec<Item>,
    version: u64,
}

impl Roster {
    pub(crate) fn version(&self) -> String {
        self.version.to_string()
    }

    pub(crate) fn items(&self) -> impl Iterator<Item = &Item> {
        self.items.iter()
    }

    /// The answer to a roster get: everything, or nothing new since `ver`
    /// (RFC 6121 §2.6.3: an empty result).
    pub(crate) fn query(&self, known: Option<&str>) -> Option<Element> {
        if known == Some(self.version().as_str()) {
            return None;
        }
        let mut query = Element::new("query", NS);
        let _ = query.set_attr("ver", self.version());
        for item in &self.items {
            query.append_child(item.to_element(false));
        }
        Some(query)
    }

    /// Changes an item with `change`, creating it; returns it as changed.
    pub(crate) fn update(&mut self, jid: &str, change: impl FnOnce(&mut Item)) -> Item {
        let at = match self.items.iter().position(|i| i.jid == jid) {
            Some(at) => at,
            None => {
                self.items.push(Item { jid: jid.to_owned(), ..Item::default() });
                self.items.len() - 1
            }
        };
        change(&mut self.items[at]);
        self.version += 1;
        self.items[at].clone()
    }

    /// A roster set from the user (RFC 6121 §2.3): one item, added,
    /// renamed, regrouped or removed. Returns the item and whether it was
    /// removed.
    pub(crate) fn set(&mut self, query: &Element) -> Result<(Item, bool), StanzaErrorCondition> {
        let bad = || StanzaErrorCondition::BadRequest;
        let mut items = query.children().filter(|c| c.is("item", NS));
        let (Some(item), None) = (items.next(), items.next()) else { return Err(bad()) };
        let jid = item.attr("jid").ok_or_else(bad)?;
        let jid = sxmpp::jid::BareJid::new(jid).map_err(|_| bad())?.to_string();
        if item.attr("subscription") == Some("remove") {
            let at = self.items.iter().position(|i| i.jid == jid).ok_or(StanzaErrorCondition::ItemNotFound)?;
            let removed = self.items.remove(at);
            self.version += 1;
            return Ok((removed, true));
        }
        let name = item.attr("name").map(str::to_owned);
        let groups: Vec<String> =
            item.children().filter(|g| g.is("group", NS)).map(|g| g.text().into_owned()).collect();
        Ok((
            self.update(&jid, |entry| {
                entry.name = name;
                entry.groups = groups;
            }),
            false,
        ))
    }
}
