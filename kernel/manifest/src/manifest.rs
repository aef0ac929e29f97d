//! `plugin.toml`: what a plugin declares. Parsing reports unknown keys and wrong types with the
//! line they are on, and semantic validation reports every problem at once, each with its line.

use std::collections::{BTreeMap, BTreeSet};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::permissions;

/// The configuration key under which a plugin finds the company's details and shared settings
/// (name, INN, bank account, time zone, currency); no plugin may declare it.
pub const COMPANY_CONFIG_KEY: &str = "company";

/// Largest linear memory a plugin may ask for, in MiB.
pub const MAX_MEMORY_MIB: u32 = 256;
/// Longest time a command may ask for, in milliseconds.
pub const MAX_COMMAND_MS: u32 = 10_000;
/// Longest time a synchronous hook may ask for, in milliseconds.
pub const MAX_HOOK_MS: u32 = 1_000;
/// Default linear memory, in MiB.
pub const DEFAULT_MEMORY_MIB: u32 = 64;
/// Default command time, in milliseconds.
pub const DEFAULT_COMMAND_MS: u32 = 1_000;
/// Default synchronous hook time, in milliseconds.
pub const DEFAULT_HOOK_MS: u32 = 100;
/// Longest time an after-commit event handler may ask for, in milliseconds.
pub const MAX_HANDLER_MS: u32 = 2_000;
/// Default after-commit event handler time, in milliseconds: well under a command's, since
/// a handler runs again on every retry.
pub const DEFAULT_HANDLER_MS: u32 = 250;

/// The built-in role every member of a company holds unless given another.
pub const MEMBER_ROLE: &str = "member";

/// Field names the kernel keeps for itself on every record.
pub const RESERVED_FIELDS: &[&str] = &["id", "version", "created_at", "updated_at", "created_by", "updated_by"];

/// Plugin names that would clash with kernel paths or event sources.
const RESERVED_NAMES: &[&str] = &["kernel", "api", "admin", "system", "plugin", "plugins", "webhooks"];

/// A problem in a manifest, with the line it is on when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line in `plugin.toml`, when the problem points at a place.
    pub line: Option<usize>,
    /// Dotted path of the key, when known.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.path.is_empty()) {
            (Some(l), false) => write!(f, "plugin.toml line {l}: {}: {}", self.path, self.message),
            (Some(l), true) => write!(f, "plugin.toml line {l}: {}", self.message),
            (None, false) => write!(f, "plugin.toml: {}: {}", self.path, self.message),
            (None, true) => write!(f, "plugin.toml: {}", self.message),
        }
    }
}

/// A label in one language or several (`"Notes"` or `{ en = "Notes", ru = "Заметки" }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Label {
    /// The same text in every language.
    Plain(String),
    /// Text per language code.
    Localized(BTreeMap<String, String>),
}

impl Label {
    /// What is wrong with it: an empty text, a language code that is not two lower-case
    /// letters, or languages without English (the fallback).
    pub fn problem(&self) -> Option<String> {
        match self {
            Label::Plain(s) if s.trim().is_empty() => Some("must not be empty".into()),
            Label::Plain(_) => None,
            Label::Localized(m) => {
                if let Some(lang) = m.keys().find(|l| l.len() != 2 || !l.bytes().all(|b| b.is_ascii_lowercase())) {
                    return Some(format!("{lang:?} is not a two-letter language code like en or ru"));
                }
                if let Some((lang, _)) = m.iter().find(|(_, t)| t.trim().is_empty()) {
                    return Some(format!("the {lang} text must not be empty"));
                }
                (!m.contains_key("en")).then(|| "needs an English text (en), the fallback for other languages".into())
            }
        }
    }

    /// Whether it has a text in each of `langs`.
    pub fn covers(&self, langs: &[&str]) -> bool {
        matches!(self, Label::Localized(m) if langs.iter().all(|l| m.get(*l).is_some_and(|t| !t.trim().is_empty())))
    }

    /// The text for `lang`, falling back to English, then to any.
    pub fn text(&self, lang: &str) -> &str {
        match self {
            Label::Plain(s) => s,
            Label::Localized(m) => {
                m.get(lang).or_else(|| m.get("en")).or_else(|| m.values().next()).map(String::as_str).unwrap_or("")
            }
        }
    }
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Identity of the plugin.
    pub plugin: PluginInfo,
    /// Other plugins this one needs, with semver ranges.
    #[serde(default)]
    pub dependencies: BTreeMap<String, VersionReq>,
    /// Permissions the plugin defines.
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
    /// Collections the kernel stores for the plugin.
    #[serde(default)]
    pub collections: BTreeMap<String, CollectionSpec>,
    /// Commands clients may run.
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
    /// Event subscriptions.
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionSpec>,
    /// Events the plugin publishes, and which collection each describes.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Timers.
    #[serde(default)]
    pub schedules: Vec<ScheduleSpec>,
    /// Inbound webhooks.
    #[serde(default)]
    pub webhooks: Vec<WebhookSpec>,
    /// Access to other plugins' collections, granted by an admin per company.
    #[serde(default)]
    pub capabilities: Vec<CapabilitySpec>,
    /// Hosts outside the platform the plugin calls (`[[hosts]]`, WIT 0.2.1), granted by an
    /// admin per company.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostSpec>,
    /// E-mail through the company's relay (`[mail]`, WIT 0.2.2), granted by an admin per
    /// company as [`MAIL_GRANT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<MailSpec>,
    /// Requested runtime limits.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Per-company configuration the admin fills in when enabling.
    #[serde(default)]
    pub config: BTreeMap<String, FieldSpec>,
    /// Hints for the web UI, per collection.
    #[serde(default)]
    pub views: BTreeMap<String, ViewSpec>,
    /// The collections of the plugin's menu section, in order; the others go under its
    /// settings. Every collection is in the section when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub menu: Vec<String>,
    /// What the plugin puts on each person's start page (`[[home]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub home: Vec<HomeSpec>,
    /// Sample data the plugin fills a demo company with.
    #[serde(default)]
    pub demo: Option<DemoSpec>,
    /// Kinds of notifications the plugin sends (`[[notifications]]`): people choose per kind
    /// where they go, by its label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationSpec>,
    /// Documents the plugin prints (`[[documents]]`, WIT 0.2.4), each with a Typst template
    /// per language shipped in its package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentSpec>,
}

/// `[plugin]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Unique name: lower-case letters, digits and `_`.
    pub name: String,
    /// Semver version.
    pub version: Version,
    /// The WIT contract version the plugin was built against.
    pub wit: Version,
    /// What the plugin does, for developers.
    #[serde(default)]
    pub description: String,
    /// What the plugin does, as administrators read it: `summary = { en = "...", ru = "..." }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Label>,
    /// Who made it.
    #[serde(default)]
    pub publisher: String,
    /// Display name.
    pub label: Option<Label>,
    /// Versions whose data this version's `migrate` export can upgrade.
    pub migrates_from: Option<VersionReq>,
}

/// `[[permissions]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSpec {
    /// `<plugin>.<resource>.<action>`.
    pub name: String,
    /// What it allows.
    #[serde(default)]
    pub description: String,
    /// What it allows, as administrators read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Built-in roles that get it when the plugin is enabled (`member`).
    #[serde(default)]
    pub default_roles: Vec<String>,
}

/// Field types of collections, command inputs and configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// UTF-8 text.
    Text,
    /// 64-bit integer.
    Int,
    /// Exact decimal (money), carried as a string.
    Decimal,
    /// true / false.
    Bool,
    /// Calendar date `YYYY-MM-DD`.
    Date,
    /// UTC timestamp, RFC 3339.
    Datetime,
    /// One of `values`.
    Enum,
    /// Id of a record in collection `to`.
    Ref,
    /// A person: the id of a user of the platform, shown by name; users' writes must name a
    /// member of the company.
    User,
    /// Any JSON.
    Json,
    /// A file stored by the kernel: written as the id an upload answered, held as
    /// `{"id", "name", "size", "content_type"}`, downloaded only by who may read the record.
    File,
}

/// One field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Must be present and non-null.
    #[serde(default)]
    pub required: bool,
    /// At most one record per company has each value.
    #[serde(default)]
    pub unique: bool,
    /// Queries may filter and sort by it efficiently.
    #[serde(default)]
    pub indexed: bool,
    /// Value used when a new record leaves the field out.
    pub default: Option<toml::Value>,
    /// Display name.
    pub label: Option<Label>,
    /// Personal data: hidden from callers without the collection's sensitive permission.
    #[serde(default)]
    pub sensitive: bool,
    /// Longest text, in characters.
    pub max_length: Option<u32>,
    /// Allowed values of an enum.
    #[serde(default)]
    pub values: Vec<String>,
    /// Target collection of a ref: `name` (own) or `plugin.name`.
    pub to: Option<String>,
    /// Most decimal places of a decimal.
    pub scale: Option<u32>,
    /// What people read for each enum value:
    /// `value_labels = { person = { en = "Person", ru = "Физическое лицо" } }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub value_labels: BTreeMap<String, Label>,
    /// Set only by the plugin (a total, the date of the last purchase): shown, never typed;
    /// the kernel refuses it in users' writes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub computed: bool,
    /// The global search box looks records up by this field (an indexed text field).
    pub search: Option<SearchKind>,
    /// For a `json` field that holds a list of lines (a deal's products, an invoice's lines):
    /// the fields of one line. The kernel checks every line like a record, and forms edit the
    /// list as a table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub line: BTreeMap<String, FieldSpec>,
    /// The order of the line's fields as table columns; the rest follow by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_columns: Vec<String>,
    /// A decimal field that the kernel keeps equal to the sum over a line field's lines
    /// (a deal's amount from its products): `lines_total = { lines = "lines", product =
    /// ["quantity", "price"] }`. With no lines the field keeps what was typed.
    pub lines_total: Option<LinesTotal>,
    /// For a `json` field that holds a list of plain values (tags, skills, the records a
    /// shipment groups): the type of one item. `values`, `to`, `max_length` and `scale` then
    /// apply to each item; forms edit the list as text separated by commas, or as a choice of
    /// several.
    pub items: Option<FieldType>,
    /// Given only through the API (an integration's details, a rule for experts): forms show
    /// the value and never edit it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub api_only: bool,
    /// A `user` field that a person's new record leaves out gets that person (a deal's
    /// responsible is who opened it), when they are a member of the company.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default_to_creator: bool,
}

/// Where a [`FieldSpec::lines_total`] comes from: the line field, and the numeric columns whose
/// product is one line's amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesTotal {
    /// The `json` field holding the lines.
    pub lines: String,
    /// Numeric columns of a line multiplied together (one column: summed as it is).
    pub product: Vec<String>,
}

impl FieldSpec {
    /// A plain field of `kind`: optional, no default, no label, nothing else declared.
    pub fn of(kind: FieldType) -> FieldSpec {
        FieldSpec {
            kind,
            required: false,
            unique: false,
            indexed: false,
            default: None,
            label: None,
            sensitive: false,
            max_length: None,
            values: Vec::new(),
            to: None,
            scale: None,
            value_labels: BTreeMap::new(),
            computed: false,
            search: None,
            line: BTreeMap::new(),
            line_columns: Vec::new(),
            lines_total: None,
            items: None,
            api_only: false,
            default_to_creator: false,
        }
    }

    /// What one item of an `items` list is checked against.
    pub fn item_spec(&self) -> Option<FieldSpec> {
        let kind = self.items?;
        Some(FieldSpec {
            kind,
            required: false,
            default: None,
            items: None,
            default_to_creator: false,
            line: BTreeMap::new(),
            line_columns: Vec::new(),
            lines_total: None,
            ..self.clone()
        })
    }

    /// True for a `file` field.
    pub fn is_file(&self) -> bool {
        self.kind == FieldType::File
    }

    /// The line's fields in column order: `line_columns` first, then the rest by name.
    pub fn line_fields(&self) -> Vec<(&String, &FieldSpec)> {
        let mut out: Vec<(&String, &FieldSpec)> =
            self.line_columns.iter().filter_map(|n| self.line.get_key_value(n)).collect();
        out.extend(self.line.iter().filter(|(n, _)| !self.line_columns.contains(n)));
        out
    }
}

/// How the global search matches what a person typed against a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchKind {
    /// The field starts with the typed text (as typed, or with a capital first letter).
    Text,
    /// The field is exactly the typed text (an INN, a document number).
    Exact,
    /// The typed text read as a phone number or an e-mail address, against contact keys
    /// written `phone:<digits>` (a Russian `8` trunk prefix and a ten-digit mobile both read
    /// as country code 7) or `email:<lower case>`.
    Key,
}

impl FieldSpec {
    /// True when queries can use an index on this field.
    pub fn is_indexed(&self) -> bool {
        self.indexed || self.unique || matches!(self.kind, FieldType::Ref | FieldType::User)
    }

    /// The default as JSON, when there is one.
    pub fn default_json(&self) -> Option<Value> {
        self.default.as_ref().and_then(|v| serde_json::to_value(v).ok())
    }
}

/// `[collections.<name>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionSpec {
    /// Display name of one record ("Customer").
    pub label: Option<Label>,
    /// Display name of the list ("Customers"), in menus and list headings.
    pub plural: Option<Label>,
    /// A ref field whose record the global search shows when this one matches (a contact's
    /// customer).
    pub search_shows: Option<String>,
    /// Needed to read; defaults to `<plugin>.<collection>.read`.
    pub read_permission: Option<String>,
    /// Needed to write; defaults to `<plugin>.<collection>.write`.
    pub write_permission: Option<String>,
    /// Needed to see sensitive fields; defaults to `<plugin>.<collection>.sensitive`.
    pub sensitive_permission: Option<String>,
    /// A record rule: the field naming who a record belongs to: a user field or an indexed
    /// text field (one person), or an indexed `json` list with `items = "user"` (its
    /// members: a private group, a chat). Users without `all_permission` see and change only
    /// the records that name them.
    pub owner_field: Option<String>,
    /// With `owner_field`: a bool field that opens a record to every reader of the
    /// collection while it is true (a public group next to private ones).
    pub open_field: Option<String>,
    /// Lifts the record rule of `owner_field`; defaults to `<plugin>.<collection>.all`.
    pub all_permission: Option<String>,
    /// The record rule binds everyone, company owners and administrators too: no permission
    /// lifts it (private chats and groups). Only the owning plugin's code sees past it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub members_only: bool,
    /// Run the plugin's `validate-write` hook before each write.
    #[serde(default)]
    pub validate: bool,
    /// Kept by the plugin itself: users and other plugins read it (with the read
    /// permission) but never write it, whatever they hold.
    #[serde(default)]
    pub read_only: bool,
    /// The fields.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldSpec>,
}

impl CollectionSpec {
    /// True when some field holds a file.
    pub fn has_files(&self) -> bool {
        self.fields.values().any(FieldSpec::is_file)
    }
}

/// `[[commands]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// Name used in the URL.
    pub name: String,
    /// Permission the caller needs.
    pub permission: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Button text.
    pub label: Option<Label>,
    /// Input fields, validated by the kernel before the plugin runs.
    #[serde(default)]
    pub input: BTreeMap<String, FieldSpec>,
    /// A report: it changes nothing, and the web UI lists it under reports and draws its
    /// answer as a table and a chart.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub report: bool,
    /// What a report's chart draws; without it the UI picks the first text and number columns.
    pub chart: Option<ChartSpec>,
    /// How a report shows its answer: the columns of its lists, in order, and its single
    /// values (`[[commands.columns]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnSpec>,
    /// The period a report's date inputs (`from`, `to`) cover when the user has not chosen one.
    pub period: Option<Period>,
}

/// `[[commands.columns]]`: one column of a list in a report's answer, or one single value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// The list in the answer this column belongs to (`stages`, `totals.rows`, or `""` for an
    /// answer that is itself a list); without it, `key` is the path of a single value
    /// (`totals.debit`).
    pub rows: Option<String>,
    /// Key of the value in each item (or the single value's path).
    pub key: String,
    /// Column header.
    pub label: Label,
    /// How values are shown; text when absent.
    #[serde(rename = "type", default)]
    pub kind: ColumnType,
    /// A totals row sums this column (numbers only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub total: bool,
    /// For `ref` columns: the collection whose record titles replace the ids.
    pub to: Option<String>,
    /// For `enum` columns: what people read for each value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub value_labels: BTreeMap<String, Label>,
}

/// How a report column's values are shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// As it is.
    #[default]
    Text,
    /// A whole number, grouped per locale.
    Int,
    /// A number with its decimals, grouped per locale.
    Decimal,
    /// An amount: two decimals, grouped per locale.
    Money,
    /// A share in percent (`12.5` shows as 12,5 %).
    Percent,
    /// A calendar date.
    Date,
    /// A moment, shown in the reader's time zone.
    Datetime,
    /// Yes or no.
    Bool,
    /// A record id, shown by the record's title (`to` names the collection).
    Ref,
    /// A user id, shown by the person's name.
    User,
    /// One of `value_labels`' keys, shown by its label.
    Enum,
}

impl ColumnType {
    /// Whether the column holds numbers (and so may have a total).
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Int | ColumnType::Decimal | ColumnType::Money | ColumnType::Percent)
    }
}

/// `[[home]]`: one block of a person's start page. Either records of a collection (listed, or
/// counted per value of `group`) or a report's answer (a list at `rows`, or a key figure at
/// `key`). In `filter`, `"$me"` stands for the person, `"$today"` and `"$tomorrow"` for dates
/// and `"$now"` and `"$end_of_today"` for times in the company's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomeSpec {
    /// Name, unique in the plugin.
    pub name: String,
    /// Heading.
    pub label: Label,
    /// Records of this collection of the plugin…
    pub collection: Option<String>,
    /// …that match this filter (the query language)…
    pub filter: Option<Value>,
    /// …in the order of this field (`-due_at` for the latest first)…
    pub sort: Option<String>,
    /// …or counted (and `sum` summed) per value of this field.
    pub group: Option<String>,
    /// With `group`: a number field summed per group.
    pub sum: Option<String>,
    /// The report whose answer is shown…
    pub command: Option<String>,
    /// …its list at this path (`""`: the answer itself), with the report's declared columns…
    pub rows: Option<String>,
    /// …or its single value at this path, shown as a key figure of `type`.
    pub key: Option<String>,
    /// How a key figure is shown.
    #[serde(rename = "type", default)]
    pub kind: ColumnType,
    /// Most items listed (10 when absent, at most 50).
    pub limit: Option<u32>,
    /// Buttons on each listed item: commands that take the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<HomeAction>,
}

/// A button on an item of a start page block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomeAction {
    /// The command it runs; its required `ref` input gets the item's id.
    pub command: String,
    /// Button text.
    pub label: Label,
    /// The other inputs it runs with (`{ approve = true }`).
    #[serde(default)]
    pub input: Map<String, Value>,
}

/// A report's default period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// The current calendar month.
    Month,
    /// The current quarter.
    Quarter,
    /// The current calendar year.
    Year,
}

/// `chart = { rows = "stages", label = "name", value = "entered" }` on a report: bars; or
/// `chart = { kind = "timeline", rows = "absences", label = "name", start = "from", end = "to",
/// category = "leave_type" }`: spans of days, one line per label (who is away when).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    /// `bars` (the default) or `timeline`.
    #[serde(default)]
    pub kind: ChartKind,
    /// The list in the answer whose items are drawn (the answer itself, or its first list,
    /// when absent).
    pub rows: Option<String>,
    /// Key of an item's label (a bar's name, a timeline's line).
    pub label: String,
    /// Key of an item's number (bars).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Keys of a span's first and last day (timelines).
    pub start: Option<String>,
    pub end: Option<String>,
    /// Key of what kind a span is, told apart by colour and legend (timelines).
    pub category: Option<String>,
}

/// How a report's chart draws its rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    /// One bar per item, its length the item's value.
    #[default]
    Bars,
    /// One line per label, with the days from each item's start to its end marked.
    Timeline,
}

/// When a subscriber runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Inside the transaction, before commit; an error vetoes the change.
    Sync,
    /// After commit, through the outbox, at least once.
    AfterCommit,
}

/// `[[subscriptions]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSpec {
    /// An event name or a pattern ending in `.*`.
    pub pattern: String,
    /// Handler name passed to the plugin.
    pub handler: String,
    /// Sync or after commit.
    pub mode: DeliveryMode,
}

/// Who may see a record of a collection with `owner_field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRule {
    /// The field naming the owner, or the list of members.
    pub field: String,
    /// The field is a list of users: a record is theirs when the list holds them.
    pub list: bool,
    /// A bool field that, while true, opens the record to every reader.
    pub open_field: Option<String>,
    /// Lifts the rule (unless `strict`).
    pub all_permission: String,
    /// Nothing lifts the rule (`members_only`).
    pub strict: bool,
}

/// `[[events]]`: an event the plugin publishes. When it names the collection the event is
/// about, the event log shows the payload only to readers of that collection, hides payload
/// keys named like its sensitive fields without the sensitive permission, and applies its
/// record rule to a payload key named like the owner field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSpec {
    /// Full event name, `<plugin>.<something>`.
    pub name: String,
    /// What it means.
    #[serde(default)]
    pub description: String,
    /// The plugin's own collection the event is about.
    pub collection: Option<String>,
}

/// `[[notifications]]`: a kind of notification the plugin sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSpec {
    /// `<plugin>.<name>` in lower-case words and dots, such as `crm.activity_due`.
    pub kind: String,
    /// What it tells, for developers.
    #[serde(default)]
    pub description: String,
    /// What people read when they choose where it goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

/// `[[documents]]`: a kind of document the plugin prints, such as an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    /// Lower-case name, such as `invoice`.
    pub name: String,
    /// What people call it: `{ en = "Invoice", ru = "Счёт на оплату" }`.
    pub label: Label,
    /// The collection whose records it is printed for.
    pub collection: String,
    /// The template per language (`ru`, `en`): a path inside the plugin's crate, such as
    /// `documents/invoice.ru.typ`, which the package carries (`export_plugin!`'s `documents`).
    pub templates: BTreeMap<String, String>,
}

impl DocumentSpec {
    /// The language to print in: the one asked for when there is a template in it, else the
    /// first declared.
    pub fn language_for(&self, asked: &str) -> Option<&str> {
        match self.templates.get_key_value(asked) {
            Some((k, _)) => Some(k.as_str()),
            None => self.templates.keys().next().map(String::as_str),
        }
    }
}

/// `[[schedules]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// Name passed to the plugin.
    pub name: String,
    /// An interval such as `30s`, `15m`, `1h`, `1d`.
    pub every: Option<String>,
    /// A five-field cron expression (minute hour day month weekday), UTC.
    pub cron: Option<String>,
}

/// `[[webhooks]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSpec {
    /// Name used in the URL.
    pub name: String,
    /// What it receives.
    #[serde(default)]
    pub description: String,
    /// What people see when they choose it, such as the destination of a company's mailbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// It takes a raw e-mail message (`message/rfc822`), so a company's mailbox may be read
    /// into it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mail: bool,
}

/// Read or write access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read records.
    Read,
    /// Read and write records.
    Write,
}

/// `[[capabilities]]`: access to another plugin's collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitySpec {
    /// `plugin.collection`.
    pub collection: String,
    /// Read or write.
    pub access: Access,
    /// Also see sensitive fields.
    #[serde(default)]
    pub sensitive: bool,
    /// Why, shown to the admin who grants it.
    #[serde(default)]
    pub reason: String,
}

/// `[[hosts]]`: a host outside the platform the plugin calls, such as
/// `https://api.telegram.org` or `https://*.example.com:8443`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// `scheme://host[:port]`; the host may be `*.domain` for its subdomains.
    pub url: String,
    /// Why, shown to the admin who grants it.
    #[serde(default)]
    pub reason: String,
}

/// `[mail]`: the plugin sends e-mail through the company's relay.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSpec {
    /// Why, shown to the admin who grants it.
    #[serde(default)]
    pub reason: String,
}

/// The grant that lets a plugin declaring `[mail]` send e-mail in a company.
pub const MAIL_GRANT: &str = "mail";

/// `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LimitsSpec {
    /// Linear memory in MiB.
    pub memory_mib: Option<u32>,
    /// Time for commands, webhooks and schedules, in ms.
    pub command_ms: Option<u32>,
    /// Time for validation and synchronous hooks, in ms.
    pub hook_ms: Option<u32>,
    /// Time for after-commit event handlers, in ms.
    pub handler_ms: Option<u32>,
}

/// `[views.<collection>]`: hints for the generic web UI.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ViewSpec {
    /// Field that names a record.
    pub title_field: Option<String>,
    /// Columns of the list view.
    #[serde(default)]
    pub list_columns: Vec<String>,
    /// The order of fields in forms and on a record's page (the rest follow); without it,
    /// the title, the list columns, other single values, then tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub form_fields: Vec<String>,
    /// Enum field whose values are kanban columns, or a ref field whose target records are.
    pub stage_field: Option<String>,
    /// Date fields of a calendar view.
    pub calendar: Option<CalendarSpec>,
    /// The plugin provides a record timeline command.
    pub timeline_command: Option<String>,
    /// Command that moves a record to another stage (input `id`, the stage field and
    /// `version`), so that the plugin's pipeline rules apply; without it the kanban edits the
    /// stage field directly.
    pub move_command: Option<String>,
    /// Listed in the navigation (default true); internal collections such as derived totals
    /// can stay reachable from reports and links without crowding the menu.
    pub menu: Option<bool>,
}

/// `[demo]`: the plugin fills a demo company (`erp serve --demo`) with sample data through its
/// own code, called in steps; see `erp_query::demo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DemoSpec {
    /// Plugins whose demo data must exist before this one's (besides the dependencies), such as
    /// the books that this plugin's documents post to.
    #[serde(default)]
    pub after: Vec<String>,
    /// The settings, as in `[config]`, that the demo company enables the plugin with.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
    /// The webhook secret the demo company gets, so that documented examples work as written.
    pub webhook_secret: Option<String>,
}

impl DemoSpec {
    /// The settings as a JSON object.
    pub fn config_json(&self) -> Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }
}

/// Calendar fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSpec {
    /// Start date field.
    pub start: String,
    /// End date field (same as start when absent).
    pub end: Option<String>,
}

/// Resolved runtime limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory in bytes.
    pub memory_bytes: usize,
    /// Command time in ms.
    pub command_ms: u32,
    /// Hook time in ms.
    pub hook_ms: u32,
    /// After-commit handler time in ms.
    pub handler_ms: u32,
}

impl Manifest {
    /// The hosts the plugin declares, written as grants keep them.
    pub fn declared_hosts(&self) -> Vec<String> {
        self.hosts.iter().filter_map(|h| crate::hosts::normalize(&h.url).ok()).collect()
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.plugin.name
    }

    /// Runtime limits with defaults filled in.
    pub fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.limits.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB) as usize * 1024 * 1024,
            command_ms: self.limits.command_ms.unwrap_or(DEFAULT_COMMAND_MS),
            hook_ms: self.limits.hook_ms.unwrap_or(DEFAULT_HOOK_MS),
            handler_ms: self.limits.handler_ms.unwrap_or(DEFAULT_HANDLER_MS),
        }
    }

    /// Permission needed to read a collection.
    pub fn read_permission(&self, collection: &str) -> String {
        self.collections
            .get(collection)
            .and_then(|c| c.read_permission.clone())
            .unwrap_or_else(|| format!("{}.{collection}.read", self.plugin.name))
    }

    /// Permission needed to write a collection.
    pub fn write_permission(&self, collection: &str) -> String {
        self.collections
            .get(collection)
            .and_then(|c| c.write_permission.clone())
            .unwrap_or_else(|| format!("{}.{collection}.write", self.plugin.name))
    }

    /// Permission needed to see a collection's sensitive fields.
    pub fn sensitive_permission(&self, collection: &str) -> String {
        self.collections
            .get(collection)
            .and_then(|c| c.sensitive_permission.clone())
            .unwrap_or_else(|| format!("{}.{collection}.sensitive", self.plugin.name))
    }

    /// The record rule of a collection: its owner field and the permission that lifts it.
    pub fn owner_rule(&self, collection: &str) -> Option<(String, String)> {
        self.record_rule(collection).map(|r| (r.field, r.all_permission))
    }

    /// The record rule of a collection, whole.
    pub fn record_rule(&self, collection: &str) -> Option<RecordRule> {
        let c = self.collections.get(collection)?;
        let field = c.owner_field.clone()?;
        let all_permission =
            c.all_permission.clone().unwrap_or_else(|| format!("{}.{collection}.all", self.plugin.name));
        let list = c.fields.get(&field).is_some_and(|f| f.items.is_some());
        Some(RecordRule { field, list, open_field: c.open_field.clone(), all_permission, strict: c.members_only })
    }

    /// Every permission this plugin defines, declared or implied by its collections.
    pub fn defined_permissions(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.permissions.iter().map(|p| p.name.clone()).collect();
        for name in self.collections.keys() {
            all.insert(self.read_permission(name));
            all.insert(self.write_permission(name));
            all.insert(self.sensitive_permission(name));
            if let Some((_, p)) = self.owner_rule(name) {
                all.insert(p);
            }
        }
        all
    }

    /// Permissions granted to a built-in role while the plugin is enabled.
    pub fn default_permissions(&self, role: &str) -> Vec<String> {
        self.permissions.iter().filter(|p| p.default_roles.iter().any(|r| r == role)).map(|p| p.name.clone()).collect()
    }

    /// The command declared under `name`.
    pub fn command(&self, name: &str) -> Option<&CommandSpec> {
        self.commands.iter().find(|c| c.name == name)
    }

    /// Every label people read in the UI, by its manifest path (`collections.deal.label`,
    /// `collections.deal.fields.kind.value_labels.person`): the plugin, its collections, their
    /// fields and enum values, commands, their inputs and report columns, and the
    /// configuration. `None` where a label is missing.
    pub fn labels(&self) -> Vec<(String, Option<&Label>)> {
        fn field<'a>(out: &mut Vec<(String, Option<&'a Label>)>, path: String, f: &'a FieldSpec) {
            for v in &f.values {
                out.push((format!("{path}.value_labels.{v}"), f.value_labels.get(v)));
            }
            out.push((format!("{path}.label"), f.label.as_ref()));
            for (name, sub) in &f.line {
                field(out, format!("{path}.line.{name}"), sub);
            }
        }
        let mut out = vec![
            ("plugin.label".to_string(), self.plugin.label.as_ref()),
            ("plugin.summary".to_string(), self.plugin.summary.as_ref()),
        ];
        for (i, n) in self.notifications.iter().enumerate() {
            out.push((format!("notifications.{i}.label"), n.label.as_ref()));
        }
        for (i, p) in self.permissions.iter().enumerate() {
            out.push((format!("permissions.{i}.label"), p.label.as_ref()));
        }
        for (cname, c) in &self.collections {
            out.push((format!("collections.{cname}.label"), c.label.as_ref()));
            if c.plural.is_some() {
                out.push((format!("collections.{cname}.plural"), c.plural.as_ref()));
            }
            for (fname, f) in &c.fields {
                field(&mut out, format!("collections.{cname}.fields.{fname}"), f);
            }
        }
        for (i, c) in self.commands.iter().enumerate() {
            out.push((format!("commands.{i}.label"), c.label.as_ref()));
            for (iname, f) in &c.input {
                field(&mut out, format!("commands.{i}.input.{iname}"), f);
            }
            for (j, col) in c.columns.iter().enumerate() {
                out.push((format!("commands.{i}.columns.{j}.label"), Some(&col.label)));
                for (v, l) in &col.value_labels {
                    out.push((format!("commands.{i}.columns.{j}.value_labels.{v}"), Some(l)));
                }
            }
        }
        for (key, f) in &self.config {
            field(&mut out, format!("config.{key}"), f);
        }
        for (i, d) in self.documents.iter().enumerate() {
            out.push((format!("documents.{i}.label"), Some(&d.label)));
        }
        for (i, h) in self.home.iter().enumerate() {
            out.push((format!("home.{i}.label"), Some(&h.label)));
            for (j, a) in h.actions.iter().enumerate() {
                out.push((format!("home.{i}.actions.{j}.label"), Some(&a.label)));
            }
        }
        out
    }
}

/// A template's path inside a plugin's crate: relative, plain segments, ending in `.typ`.
pub fn is_template_path(path: &str) -> bool {
    path.len() <= 200
        && path.ends_with(".typ")
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// Map-valued keys of the manifest: one entry of them can be set aside when it is broken, so
/// that the rest of the manifest is still checked.
const MAP_KEYS: &[&str] = &["collections", "fields", "config", "views", "dependencies", "input", "line"];

/// Most type errors reported for one manifest.
const MAX_TYPE_ERRORS: usize = 50;

/// Parses and validates `plugin.toml` text against the WIT versions the kernel supports.
/// Every unknown key, every wrong type and every semantic problem is reported, each with
/// its line.
pub fn parse(text: &str, supported_wit: &[Version]) -> Result<Manifest, Vec<Problem>> {
    let doc = match toml::de::DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => return Err(vec![from_toml_error(text, &e)]),
    };
    let mut value: toml::Value = match toml::from_str::<toml::Table>(text) {
        Ok(t) => toml::Value::Table(t),
        Err(e) => return Err(vec![from_toml_error(text, &e)]),
    };
    // A missing key has no line of its own: the nearest enclosing entry's line stands for it.
    let at = |path: String, message: String| {
        let mut line = None;
        let mut probe = path.as_str();
        while line.is_none() {
            line = line_of_path(text, doc.get_ref(), probe);
            match probe.rsplit_once('.') {
                Some((parent, _)) => probe = parent,
                None => break,
            }
        }
        Problem { line, path, message }
    };
    let mut problems: Vec<Problem> = Vec::new();
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    let mut removed = Removed::default();
    let mut parsed = None;
    // Each round reports one wrong type and sets aside the entry that holds it, so that the
    // next round can check the rest.
    for _ in 0..MAX_TYPE_ERRORS {
        let mut found = Vec::new();
        let result: Result<Manifest, _> = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
            value.clone(),
            &mut |path: serde_ignored::Path<'_>| found.push(path.to_string().replace(".?", "")),
        ));
        unknown.extend(
            found.iter().map(|p| removed.original(&p.split('.').map(str::to_string).collect::<Vec<_>>()).join(".")),
        );
        match result {
            Ok(m) => {
                parsed = Some(m);
                break;
            }
            Err(e) => {
                let segments: Vec<String> = e
                    .path()
                    .iter()
                    .filter_map(|s| match s {
                        serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                        serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                        serde_path_to_error::Segment::Unknown => None,
                    })
                    .collect();
                let message = e.inner().to_string();
                let message = message.lines().next().unwrap_or_default().to_string();
                problems.push(at(removed.original(&segments).join("."), message));
                if !set_aside(&mut value, &segments, &mut removed) {
                    break;
                }
            }
        }
    }
    let type_errors = !problems.is_empty();
    problems.extend(unknown.into_iter().map(|path| at(path, "unknown key".to_string())));
    let Some(manifest) = parsed.filter(|_| !type_errors) else {
        // With wrong types set aside, semantic checks would report follow-up noise.
        problems.sort_by_key(|p| p.line);
        return Err(problems);
    };
    let mut v = Validator { manifest: &manifest, problems: Vec::new() };
    v.run(supported_wit);
    problems.extend(v.problems.into_iter().map(|(path, message)| at(path, message)));
    problems.sort_by_key(|p| p.line);
    if problems.is_empty() { Ok(manifest) } else { Err(problems) }
}

/// Array elements set aside so far, to report later problems at their original positions.
#[derive(Default)]
struct Removed(Vec<(String, usize)>);

impl Removed {
    /// The original index of element `current` of the array at `array`.
    fn index(&self, array: &str, current: usize) -> usize {
        let mut gone: Vec<usize> = self.0.iter().filter(|(a, _)| a == array).map(|(_, i)| *i).collect();
        gone.sort_unstable();
        let mut original = current;
        for g in gone {
            if g <= original {
                original += 1;
            }
        }
        original
    }

    /// `path` (with current indices) translated to the document's original indices.
    fn original(&self, path: &[String]) -> Vec<String> {
        path.iter()
            .enumerate()
            .map(|(i, seg)| match seg.parse::<usize>() {
                Ok(n) if i > 0 => self.index(&path[..i].join("."), n).to_string(),
                _ => seg.clone(),
            })
            .collect()
    }
}

/// Removes the innermost map entry or array element that holds the broken value at `path`,
/// so that checking can go on. False when the error sits in a fixed section.
fn set_aside(value: &mut toml::Value, path: &[String], removed: &mut Removed) -> bool {
    let cut = (1..path.len()).rev().find(|&i| {
        let parent = &path[i - 1];
        MAP_KEYS.contains(&parent.as_str()) || path[i].parse::<usize>().is_ok()
    });
    let Some(cut) = cut else { return false };
    let mut node = value;
    for seg in &path[..cut] {
        node = match node {
            toml::Value::Table(t) => match t.get_mut(seg) {
                Some(v) => v,
                None => return false,
            },
            toml::Value::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match node {
        toml::Value::Table(t) => t.remove(&path[cut]).is_some(),
        toml::Value::Array(a) => match path[cut].parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                let array = path[..cut].join(".");
                let original = removed.index(&array, i);
                removed.0.push((array, original));
                true
            }
            _ => false,
        },
        _ => false,
    }
}

fn from_toml_error(text: &str, e: &toml::de::Error) -> Problem {
    Problem {
        line: e.span().map(|s| line_at(text, s.start)),
        path: String::new(),
        message: e.message().trim().to_string(),
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset.min(text.len())).filter(|&&b| b == b'\n').count() + 1
}

/// Line of the deepest key of a dotted path (`collections.note.fields.x`, `commands.0.name`)
/// that exists in the document.
fn line_of_path(text: &str, doc: &toml::de::DeTable<'_>, path: &str) -> Option<usize> {
    use toml::de::DeValue;
    let mut table = doc;
    let mut best: Option<usize> = None;
    let mut segments = path.split('.').peekable();
    let mut array: Option<&toml::de::DeArray<'_>> = None;
    while let Some(seg) = segments.next() {
        if let Some(items) = array.take() {
            let item = seg.parse::<usize>().ok().and_then(|i| items.get(i))?;
            best = Some(line_at(text, item.span().start));
            match item.get_ref() {
                DeValue::Table(t) => {
                    table = t;
                    continue;
                }
                _ => return best,
            }
        }
        let (key, value) = table.get_key_value(seg)?;
        best = Some(line_at(text, key.span().start));
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            DeValue::Array(a) => array = Some(a),
            _ => {
                if segments.peek().is_some() {
                    return best;
                }
            }
        }
    }
    best
}

struct Validator<'a> {
    manifest: &'a Manifest,
    problems: Vec<(String, String)>,
}

/// `[a-z][a-z0-9_]*`, at most `max` long.
pub fn is_identifier(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `[a-z][a-z0-9_-]*`: names of commands, handlers, schedules and webhooks used in URLs.
pub fn is_slug(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Seconds in an interval such as `30s`, `15m`, `2h`, `1d`.
pub fn parse_interval(text: &str) -> Option<u64> {
    let (num, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = num.parse().ok().filter(|&n| n > 0)?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    (secs >= 1).then_some(secs)
}

/// True for an event pattern: a dotted name, or a dotted prefix followed by `.*`.
pub fn is_event_pattern(p: &str) -> bool {
    let body = p.strip_suffix(".*").unwrap_or(p);
    !body.is_empty() && body.split('.').all(|s| is_slug(s) || is_identifier(s, 64))
}

impl Validator<'_> {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push((path.into(), message.into()));
    }

    fn run(&mut self, supported_wit: &[Version]) {
        let m = self.manifest;
        let name = m.plugin.name.clone();
        if !is_identifier(&name, 32) {
            self.problem(
                "plugin.name",
                "must be 1-32 characters: lower-case letters, digits or '_', starting with a letter",
            );
        }
        if RESERVED_NAMES.contains(&name.as_str()) {
            self.problem("plugin.name", format!("{name} is reserved"));
        }
        let wit_ok = supported_wit.iter().any(|k| wit_compatible(&m.plugin.wit, k));
        if !wit_ok {
            let list: Vec<String> = supported_wit.iter().map(Version::to_string).collect();
            self.problem(
                "plugin.wit",
                format!("WIT version {} is not supported by this kernel (supports {})", m.plugin.wit, list.join(", ")),
            );
        }
        for dep in m.dependencies.keys() {
            if !is_identifier(dep, 32) || dep == &name {
                self.problem(format!("dependencies.{dep}"), "is not a valid plugin name to depend on");
            }
        }
        self.permissions(&name);
        for (cname, coll) in &m.collections {
            self.collection(&name, cname, coll);
        }
        self.commands(&name);
        self.subscriptions();
        self.events(&name);
        self.notifications(&name);
        self.documents();
        self.schedules();
        let mut seen = BTreeSet::new();
        for (i, w) in m.webhooks.iter().enumerate() {
            if !is_slug(&w.name) {
                self.problem(format!("webhooks.{i}.name"), "must be a lower-case name like `inbound-mail`");
            }
            if !seen.insert(&w.name) {
                self.problem(format!("webhooks.{i}.name"), format!("webhook {} is declared twice", w.name));
            }
            if let Some(problem) = w.label.as_ref().and_then(Label::problem) {
                self.problem(format!("webhooks.{i}.label"), problem);
            }
        }
        self.capabilities(&name);
        self.hosts();
        self.limits();
        for (key, field) in &m.config {
            self.field(&format!("config.{key}"), key, field, &name, false);
            if key == COMPANY_CONFIG_KEY {
                self.problem(
                    format!("config.{key}"),
                    "is reserved: the kernel puts the company's details there".to_string(),
                );
            }
        }
        self.views();
        self.home();
        let mut listed = BTreeSet::new();
        for (i, c) in m.menu.iter().enumerate() {
            if !m.collections.contains_key(c) {
                self.problem(format!("menu.{i}"), format!("{c} is not a collection of this plugin"));
            } else if !listed.insert(c) {
                self.problem(format!("menu.{i}"), format!("{c} is listed twice"));
            }
        }
        self.demo(&name);
        for (path, label) in m.labels() {
            if let Some(problem) = label.and_then(Label::problem) {
                self.problem(path, problem);
            }
        }
    }

    fn demo(&mut self, plugin: &str) {
        let Some(demo) = &self.manifest.demo else { return };
        for (i, other) in demo.after.iter().enumerate() {
            if !is_identifier(other, 32) || other == plugin {
                self.problem(format!("demo.after.{i}"), format!("{other:?} is not another plugin's name"));
            }
        }
        if let Some(secret) = &demo.webhook_secret
            && !(16..=256).contains(&secret.len())
        {
            self.problem("demo.webhook_secret", "must be 16 to 256 characters");
        }
        if let Value::Object(config) = demo.config_json()
            && let Err(invalid) = crate::values::validate_object(&self.manifest.config, &config)
        {
            for e in invalid.0 {
                self.problem(format!("demo.config.{}", e.field), e.message);
            }
        }
    }

    fn permissions(&mut self, plugin: &str) {
        let mut seen = BTreeSet::new();
        for (i, p) in self.manifest.permissions.iter().enumerate() {
            if !permissions::is_valid(&p.name) || p.name.ends_with(".*") || !p.name.starts_with(&format!("{plugin}.")) {
                self.problem(format!("permissions.{i}.name"), format!("must look like {plugin}.resource.action"));
            }
            if !seen.insert(&p.name) {
                self.problem(format!("permissions.{i}.name"), format!("{} is declared twice", p.name));
            }
            for r in &p.default_roles {
                if r != MEMBER_ROLE {
                    self.problem(
                        format!("permissions.{i}.default_roles"),
                        format!("{r:?}: only \"member\" can be given defaults (owners and admins hold everything)"),
                    );
                }
            }
        }
    }

    fn check_own_permission(&mut self, path: &str, plugin: &str, perm: &str) {
        if !permissions::is_valid(perm) || perm.ends_with(".*") {
            self.problem(path, format!("{perm:?} is not a permission"));
        } else if !perm.starts_with(&format!("{plugin}.")) && !perm.starts_with("kernel.") {
            self.problem(path, format!("{perm} must be one of this plugin's permissions ({plugin}.*)"));
        }
    }

    fn collection(&mut self, plugin: &str, cname: &str, coll: &CollectionSpec) {
        let base = format!("collections.{cname}");
        if !is_identifier(cname, 48) {
            self.problem(&base, "collection names are lower-case letters, digits or '_', starting with a letter");
        }
        for (key, perm) in [
            ("read_permission", &coll.read_permission),
            ("write_permission", &coll.write_permission),
            ("sensitive_permission", &coll.sensitive_permission),
            ("all_permission", &coll.all_permission),
        ] {
            if let Some(p) = perm {
                self.check_own_permission(&format!("{base}.{key}"), plugin, p);
            }
        }
        match (&coll.owner_field, &coll.all_permission) {
            (Some(f), _) => match coll.fields.get(f) {
                Some(spec)
                    if spec.items.is_none()
                        && matches!(spec.kind, FieldType::Text | FieldType::User)
                        && spec.is_indexed()
                        && !spec.sensitive => {}
                Some(spec) if spec.items == Some(FieldType::User) && spec.indexed && !spec.sensitive => {}
                _ => self.problem(
                    format!("{base}.owner_field"),
                    format!(
                        "{f} must be a user field, an indexed text field or an indexed list of users of {cname}, not sensitive (it names users)"
                    ),
                ),
            },
            (None, Some(_)) => {
                self.problem(format!("{base}.all_permission"), "only a collection with owner_field has it")
            }
            (None, None) => {}
        }
        if coll.members_only && (coll.owner_field.is_none() || coll.all_permission.is_some()) {
            self.problem(
                format!("{base}.members_only"),
                "needs owner_field, and no all_permission (nothing lifts a members-only rule)",
            );
        }
        if let Some(open) = &coll.open_field {
            let bool_field = coll.fields.get(open).is_some_and(|f| f.kind == FieldType::Bool && f.indexed);
            if coll.owner_field.is_none() {
                self.problem(format!("{base}.open_field"), "only a collection with owner_field has it");
            } else if !bool_field {
                self.problem(format!("{base}.open_field"), format!("{open} must be an indexed bool field of {cname}"));
            }
        }
        if coll.fields.is_empty() {
            self.problem(format!("{base}.fields"), "a collection needs at least one field");
        }
        if let Some(via) = &coll.search_shows
            && !coll
                .fields
                .get(via)
                .is_some_and(|f| f.kind == FieldType::Ref && f.to.as_ref().is_some_and(|t| !t.contains('.')))
        {
            self.problem(
                format!("{base}.search_shows"),
                format!("{via} is not a ref field of {cname} to a collection of this plugin"),
            );
        }
        for (fname, field) in &coll.fields {
            self.field(&format!("{base}.fields.{fname}"), fname, field, plugin, true);
            if let Some(total) = &field.lines_total {
                self.lines_total(&format!("{base}.fields.{fname}.lines_total"), field, total, &coll.fields);
            }
        }
    }

    /// A lines total: a decimal field summing numeric columns of a line field of the same
    /// collection.
    fn lines_total(&mut self, path: &str, f: &FieldSpec, total: &LinesTotal, fields: &BTreeMap<String, FieldSpec>) {
        if f.kind != FieldType::Decimal {
            self.problem(path, "only decimal fields hold a lines total");
        }
        let Some(lines) = fields.get(&total.lines).filter(|l| !l.line.is_empty()) else {
            self.problem(
                format!("{path}.lines"),
                format!("{} is not a field of lines in this collection", total.lines),
            );
            return;
        };
        if total.product.is_empty() {
            self.problem(format!("{path}.product"), "name at least one numeric column of the line");
        }
        for (i, c) in total.product.iter().enumerate() {
            if !lines.line.get(c).is_some_and(|s| matches!(s.kind, FieldType::Int | FieldType::Decimal)) {
                self.problem(format!("{path}.product.{i}"), format!("{c} is not a numeric column of {}", total.lines));
            }
        }
    }

    fn field(&mut self, path: &str, fname: &str, f: &FieldSpec, plugin: &str, in_collection: bool) {
        if !is_identifier(fname, 64) {
            self.problem(path, "field names are lower-case letters, digits or '_', starting with a letter");
        }
        if in_collection && RESERVED_FIELDS.contains(&fname) {
            self.problem(path, format!("{fname} is kept by the kernel on every record"));
        }
        // An `items` list's values, `to`, `max_length` and `scale` describe each item.
        let kind = f.items.unwrap_or(f.kind);
        if let Some(item) = f.items {
            if f.kind != FieldType::Json || !f.line.is_empty() {
                self.problem(format!("{path}.items"), "only json fields without lines hold a list of items");
            }
            if matches!(item, FieldType::Json | FieldType::Bool | FieldType::Datetime | FieldType::File) {
                self.problem(format!("{path}.items"), "items are text, int, decimal, date, enum, ref or user");
            }
        }
        if kind == FieldType::Enum {
            if f.values.is_empty() {
                self.problem(format!("{path}.values"), "an enum needs at least one value");
            }
            let distinct: BTreeSet<&String> = f.values.iter().collect();
            if distinct.len() != f.values.len() {
                self.problem(format!("{path}.values"), "values must be distinct");
            }
        } else if !f.values.is_empty() {
            self.problem(format!("{path}.values"), "only enum fields have values");
        }
        if kind != FieldType::Enum && !f.value_labels.is_empty() {
            self.problem(format!("{path}.value_labels"), "only enum fields have value_labels");
        }
        for value in f.value_labels.keys() {
            if kind == FieldType::Enum && !f.values.contains(value) {
                self.problem(format!("{path}.value_labels.{value}"), format!("{value} is not one of the values"));
            }
        }
        if let Some(kind) = f.search {
            if !in_collection {
                self.problem(format!("{path}.search"), "only collection fields are searched");
            } else if !(matches!(f.kind, FieldType::Text) || (kind == SearchKind::Exact && f.kind == FieldType::Enum))
                || !f.is_indexed()
            {
                self.problem(format!("{path}.search"), "only indexed text fields are searched");
            }
        }
        if f.computed {
            if !in_collection {
                self.problem(format!("{path}.computed"), "only collection fields are computed");
            } else if f.required && f.default.is_none() {
                self.problem(
                    format!("{path}.computed"),
                    "a required computed field needs a default: users cannot give it",
                );
            }
        }
        match (&f.to, kind) {
            (None, FieldType::Ref) => self.problem(format!("{path}.to"), "a ref needs `to`: a collection name"),
            (Some(to), FieldType::Ref) => self.ref_target(path, to, plugin, in_collection),
            (Some(_), _) => self.problem(format!("{path}.to"), "only ref fields have `to`"),
            (None, _) => {}
        }
        if f.max_length.is_some() && kind != FieldType::Text {
            self.problem(format!("{path}.max_length"), "only text fields have max_length");
        }
        if let Some(s) = f.scale {
            if kind != FieldType::Decimal {
                self.problem(format!("{path}.scale"), "only decimal fields have a scale");
            } else if s > 18 {
                self.problem(format!("{path}.scale"), "at most 18 decimal places");
            }
        }
        // A list of plain items is indexed item by item (the `has` filter, a record rule).
        let indexed_list = f.indexed && !f.unique && f.kind == FieldType::Json && f.items.is_some();
        if (f.unique || f.indexed) && matches!(f.kind, FieldType::Json | FieldType::File) && !indexed_list {
            self.problem(
                path,
                "json and file fields cannot be unique or indexed (a json list of items can be indexed)",
            );
        }
        if f.kind == FieldType::File && (f.default.is_some() || f.computed || f.search.is_some()) {
            self.problem(path, "a file field has no default and is not computed or searched");
        }
        if !in_collection && (f.unique || f.indexed || f.sensitive) {
            self.problem(path, "unique, indexed and sensitive apply to collection fields only");
        }
        if let Some(default) = f.default_json()
            && let Err(msg) = crate::values::check_value(f, &default)
        {
            self.problem(format!("{path}.default"), msg);
        }
        if f.default_to_creator && (f.kind != FieldType::User || !in_collection) {
            self.problem(
                format!("{path}.default_to_creator"),
                "only user fields of collections default to their creator",
            );
        }
        if f.api_only && f.required {
            self.problem(format!("{path}.api_only"), "a required field must be in forms");
        }
        if !in_collection && f.lines_total.is_some() {
            self.problem(format!("{path}.lines_total"), "only collection fields hold a lines total");
        }
        self.line(path, f, plugin);
    }

    /// A list of lines: only on `json` fields, one level deep, its columns its own fields.
    fn line(&mut self, path: &str, f: &FieldSpec, plugin: &str) {
        if f.line.is_empty() {
            if !f.line_columns.is_empty() {
                self.problem(format!("{path}.line_columns"), "only fields with `line` have line_columns");
            }
            return;
        }
        if f.kind != FieldType::Json {
            self.problem(format!("{path}.line"), "only json fields hold lines");
        }
        let mut seen = BTreeSet::new();
        for (i, c) in f.line_columns.iter().enumerate() {
            if !f.line.contains_key(c) {
                self.problem(format!("{path}.line_columns.{i}"), format!("{c} is not a field of the line"));
            }
            if !seen.insert(c) {
                self.problem(format!("{path}.line_columns.{i}"), format!("{c} is listed twice"));
            }
        }
        for (name, sub) in &f.line {
            let sub_path = format!("{path}.line.{name}");
            if !sub.line.is_empty() || matches!(sub.kind, FieldType::Json | FieldType::File) {
                self.problem(&sub_path, "a line's fields are plain values: no json, files or lines within lines");
            }
            if sub.computed || sub.unique || sub.indexed || sub.sensitive || sub.search.is_some() {
                self.problem(&sub_path, "a line's fields cannot be computed, unique, indexed, sensitive or searched");
            }
            self.field(&sub_path, name, sub, plugin, false);
        }
    }

    /// `to` of a ref: a collection of this plugin (checked where `own_known`) or
    /// `dependency.collection`.
    fn ref_target(&mut self, path: &str, to: &str, plugin: &str, own_known: bool) {
        let ok = match to.split_once('.') {
            None => !own_known || self.manifest.collections.contains_key(to),
            Some((p, c)) => is_identifier(c, 48) && (p == plugin || self.manifest.dependencies.contains_key(p)),
        };
        if !ok {
            self.problem(
                format!("{path}.to"),
                format!("{to} is neither a collection of this plugin nor `dependency.collection`"),
            );
        }
    }

    fn commands(&mut self, plugin: &str) {
        let mut seen = BTreeSet::new();
        for (i, c) in self.manifest.commands.iter().enumerate() {
            if !is_slug(&c.name) {
                self.problem(format!("commands.{i}.name"), "must be a lower-case name like `close-deal`");
            }
            if !seen.insert(&c.name) {
                self.problem(format!("commands.{i}.name"), format!("command {} is declared twice", c.name));
            }
            self.check_own_permission(&format!("commands.{i}.permission"), plugin, &c.permission);
            for (fname, field) in &c.input {
                self.field(&format!("commands.{i}.input.{fname}"), fname, field, plugin, false);
            }
            if !c.report && !c.columns.is_empty() {
                self.problem(format!("commands.{i}.columns"), "only reports (report = true) have columns");
            }
            if let Some(chart) = &c.chart {
                let path = format!("commands.{i}.chart");
                match chart.kind {
                    ChartKind::Bars if chart.value.is_empty() => self.problem(&path, "a bar chart needs `value`"),
                    ChartKind::Timeline if chart.start.is_none() || chart.end.is_none() => {
                        self.problem(&path, "a timeline needs `start` and `end`")
                    }
                    ChartKind::Bars if chart.start.is_some() || chart.end.is_some() || chart.category.is_some() => {
                        self.problem(&path, "start, end and category belong to timelines")
                    }
                    _ => {}
                }
            }
            if !c.report && c.period.is_some() {
                self.problem(format!("commands.{i}.period"), "only reports (report = true) have a period");
            }
            let mut keys = BTreeSet::new();
            for (j, col) in c.columns.iter().enumerate() {
                self.column(&format!("commands.{i}.columns.{j}"), col, plugin, &mut keys);
            }
        }
    }

    fn column<'c>(
        &mut self,
        path: &str,
        col: &'c ColumnSpec,
        plugin: &str,
        keys: &mut BTreeSet<(Option<&'c str>, &'c str)>,
    ) {
        let is_path = |p: &str| p.split('.').all(|part| !part.is_empty() && part.len() <= 64);
        if col.key.is_empty() || !is_path(&col.key) {
            self.problem(format!("{path}.key"), "must be a key like `amount` (or a path like `totals.debit`)");
        }
        if let Some(rows) = &col.rows
            && !rows.is_empty()
            && !is_path(rows)
        {
            self.problem(format!("{path}.rows"), "must be a path like `stages` or `totals.rows`, or \"\"");
        }
        if !keys.insert((col.rows.as_deref(), col.key.as_str())) {
            self.problem(format!("{path}.key"), format!("column {} is declared twice", col.key));
        }
        if col.total && !col.kind.is_numeric() {
            self.problem(format!("{path}.total"), "only int, decimal, money and percent columns have a total");
        }
        match (&col.to, col.kind) {
            (None, ColumnType::Ref) => self.problem(format!("{path}.to"), "a ref column needs `to`: a collection name"),
            (Some(to), ColumnType::Ref) => self.ref_target(path, to, plugin, true),
            (Some(_), _) => self.problem(format!("{path}.to"), "only ref columns have `to`"),
            (None, _) => {}
        }
        if col.kind != ColumnType::Enum && !col.value_labels.is_empty() {
            self.problem(format!("{path}.value_labels"), "only enum columns have value_labels");
        }
        if col.kind == ColumnType::Enum && col.value_labels.is_empty() {
            self.problem(format!("{path}.value_labels"), "an enum column needs value_labels");
        }
    }

    fn subscriptions(&mut self) {
        for (i, s) in self.manifest.subscriptions.iter().enumerate() {
            if !is_event_pattern(&s.pattern) {
                self.problem(format!("subscriptions.{i}.pattern"), "must be an event name or a prefix ending in .*");
            }
            if !is_slug(&s.handler) {
                self.problem(format!("subscriptions.{i}.handler"), "must be a lower-case name like `on-deal-won`");
            }
        }
    }

    fn events(&mut self, plugin: &str) {
        let mut seen = BTreeSet::new();
        for (i, e) in self.manifest.events.iter().enumerate() {
            if let Err(msg) = check_publish_name(plugin, &e.name) {
                self.problem(format!("events.{i}.name"), msg);
            }
            if !seen.insert(&e.name) {
                self.problem(format!("events.{i}.name"), format!("event {} is declared twice", e.name));
            }
            if let Some(c) = &e.collection
                && !self.manifest.collections.contains_key(c)
            {
                self.problem(format!("events.{i}.collection"), format!("{c} is not a collection of this plugin"));
            }
        }
    }

    fn notifications(&mut self, plugin: &str) {
        let mut seen = BTreeSet::new();
        for (i, n) in self.manifest.notifications.iter().enumerate() {
            if !is_kind_of(&n.kind, plugin) {
                self.problem(
                    format!("notifications.{i}.kind"),
                    format!("must be {plugin}.<name> in lower-case words and dots, at most 100 characters"),
                );
            }
            if !seen.insert(&n.kind) {
                self.problem(format!("notifications.{i}.kind"), format!("{} is declared twice", n.kind));
            }
        }
    }

    fn documents(&mut self) {
        let mut seen = BTreeSet::new();
        for (i, d) in self.manifest.documents.iter().enumerate() {
            if !is_slug(&d.name) {
                self.problem(format!("documents.{i}.name"), "must be a lower-case name like `invoice`");
            }
            if !seen.insert(&d.name) {
                self.problem(format!("documents.{i}.name"), format!("document {} is declared twice", d.name));
            }
            if !self.manifest.collections.contains_key(&d.collection) {
                self.problem(
                    format!("documents.{i}.collection"),
                    format!("{} is not a collection of this plugin", d.collection),
                );
            }
            if d.templates.is_empty() {
                self.problem(format!("documents.{i}.templates"), "needs a template in at least one language");
            }
            for (lang, path) in &d.templates {
                if !(lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase())) {
                    self.problem(format!("documents.{i}.templates.{lang}"), "must be a two-letter language code");
                }
                if !is_template_path(path) {
                    self.problem(
                        format!("documents.{i}.templates.{lang}"),
                        "must be a relative path to a .typ file inside the crate, like documents/invoice.ru.typ",
                    );
                }
            }
        }
        if !self.manifest.documents.is_empty() && self.manifest.plugin.wit < Version::new(0, 2, 4) {
            self.problem("documents", "printing documents needs WIT 0.2.4 or later (plugin.wit)");
        }
    }

    fn schedules(&mut self) {
        let mut seen = BTreeSet::new();
        for (i, s) in self.manifest.schedules.iter().enumerate() {
            if !is_slug(&s.name) {
                self.problem(format!("schedules.{i}.name"), "must be a lower-case name like `daily-report`");
            }
            if !seen.insert(&s.name) {
                self.problem(format!("schedules.{i}.name"), format!("schedule {} is declared twice", s.name));
            }
            match (&s.every, &s.cron) {
                (Some(e), None) => {
                    if parse_interval(e).is_none_or(|secs| secs < 10) {
                        self.problem(
                            format!("schedules.{i}.every"),
                            "must be an interval of at least 10s, like 30s, 15m, 1h or 1d",
                        );
                    }
                }
                (None, Some(c)) => {
                    if let Err(e) = crate::cron::Cron::parse(c) {
                        self.problem(format!("schedules.{i}.cron"), e);
                    }
                }
                _ => self.problem(format!("schedules.{i}"), "give exactly one of `every` or `cron`"),
            }
        }
    }

    fn capabilities(&mut self, plugin: &str) {
        for (i, c) in self.manifest.capabilities.iter().enumerate() {
            match c.collection.split_once('.') {
                Some((p, coll)) if is_identifier(p, 32) && is_identifier(coll, 48) && p != plugin => {}
                _ => self.problem(
                    format!("capabilities.{i}.collection"),
                    "must name another plugin's collection as plugin.collection",
                ),
            }
        }
    }

    fn hosts(&mut self) {
        let mut seen = BTreeSet::new();
        for (i, h) in self.manifest.hosts.iter().enumerate() {
            match crate::hosts::normalize(&h.url) {
                Ok(n) => {
                    if !seen.insert(n.clone()) {
                        self.problem(format!("hosts.{i}.url"), format!("{n} is declared twice"));
                    }
                }
                Err(e) => self.problem(format!("hosts.{i}.url"), e),
            }
        }
        if !self.manifest.hosts.is_empty() && self.manifest.plugin.wit < Version::new(0, 2, 1) {
            self.problem("hosts", "calling hosts needs WIT 0.2.1 or later (plugin.wit)");
        }
        if self.manifest.mail.is_some() && self.manifest.plugin.wit < Version::new(0, 2, 2) {
            self.problem("mail", "sending e-mail needs WIT 0.2.2 or later (plugin.wit)");
        }
    }

    fn limits(&mut self) {
        let l = self.manifest.limits;
        if let Some(m) = l.memory_mib
            && !(1..=MAX_MEMORY_MIB).contains(&m)
        {
            self.problem("limits.memory_mib", format!("must be between 1 and {MAX_MEMORY_MIB}"));
        }
        if let Some(ms) = l.command_ms
            && !(1..=MAX_COMMAND_MS).contains(&ms)
        {
            self.problem("limits.command_ms", format!("must be between 1 and {MAX_COMMAND_MS}"));
        }
        if let Some(ms) = l.hook_ms
            && !(1..=MAX_HOOK_MS).contains(&ms)
        {
            self.problem("limits.hook_ms", format!("must be between 1 and {MAX_HOOK_MS}"));
        }
        if let Some(ms) = l.handler_ms
            && !(1..=MAX_HANDLER_MS).contains(&ms)
        {
            self.problem("limits.handler_ms", format!("must be between 1 and {MAX_HANDLER_MS}"));
        }
    }

    fn home(&mut self) {
        let m = self.manifest;
        let mut seen = BTreeSet::new();
        for (i, h) in m.home.iter().enumerate() {
            let base = format!("home.{i}");
            if !is_slug(&h.name) {
                self.problem(format!("{base}.name"), "must be a lower-case name like `my-deals`");
            }
            if !seen.insert(&h.name) {
                self.problem(format!("{base}.name"), format!("{} is declared twice", h.name));
            }
            if h.limit.is_some_and(|l| l == 0 || l > 50) {
                self.problem(format!("{base}.limit"), "must be 1 to 50");
            }
            let target = match (&h.collection, &h.command) {
                (Some(c), None) => {
                    let Some(coll) = m.collections.get(c) else {
                        self.problem(format!("{base}.collection"), format!("{c} is not a collection of this plugin"));
                        continue;
                    };
                    if h.filter.as_ref().is_some_and(|f| !f.is_object()) {
                        self.problem(
                            format!("{base}.filter"),
                            "must be a filter like { field = \"done\", op = \"eq\", value = false }",
                        );
                    }
                    if let Some(sort) = &h.sort
                        && !coll.fields.contains_key(sort.trim_start_matches('-'))
                        && !["created_at", "updated_at"].contains(&sort.trim_start_matches('-'))
                    {
                        self.problem(format!("{base}.sort"), format!("{sort} is not a field of {c}"));
                    }
                    match (&h.group, &h.sum) {
                        (Some(g), _)
                            if !coll.fields.get(g).is_some_and(|f| {
                                matches!(f.kind, FieldType::Enum | FieldType::Ref | FieldType::User | FieldType::Bool)
                            }) =>
                        {
                            self.problem(
                                format!("{base}.group"),
                                format!("{g} is not an enum, ref, user or bool field of {c}"),
                            )
                        }
                        (Some(_), Some(sum))
                            if !coll
                                .fields
                                .get(sum)
                                .is_some_and(|f| matches!(f.kind, FieldType::Int | FieldType::Decimal)) =>
                        {
                            self.problem(format!("{base}.sum"), format!("{sum} is not a number field of {c}"))
                        }
                        (None, Some(_)) => self.problem(format!("{base}.sum"), "only a grouped block sums"),
                        _ => {}
                    }
                    if h.rows.is_some() || h.key.is_some() {
                        self.problem(format!("{base}.rows"), "rows and key belong to a report block");
                    }
                    Some(c.clone())
                }
                (None, Some(cmd)) => {
                    match m.command(cmd) {
                        Some(c) if c.report => {}
                        _ => self.problem(format!("{base}.command"), format!("{cmd} is not a report of this plugin")),
                    }
                    if h.rows.is_some() == h.key.is_some() {
                        self.problem(
                            format!("{base}.rows"),
                            "a report block shows either a list (`rows`) or a figure (`key`)",
                        );
                    }
                    if h.filter.is_some() || h.sort.is_some() || h.group.is_some() || h.sum.is_some() {
                        self.problem(
                            format!("{base}.filter"),
                            "filter, sort, group and sum belong to a collection block",
                        );
                    }
                    None
                }
                _ => {
                    self.problem(
                        format!("{base}.collection"),
                        "a block shows either a collection or a report (`command`)",
                    );
                    continue;
                }
            };
            for (j, a) in h.actions.iter().enumerate() {
                let takes_item = m.command(&a.command).is_some_and(|c| {
                    c.input.values().any(|f| {
                        f.kind == FieldType::Ref && f.required && (target.is_none() || f.to.as_ref() == target.as_ref())
                    })
                });
                if !takes_item {
                    self.problem(
                        format!("{base}.actions.{j}.command"),
                        format!(
                            "{} is not a command of this plugin that takes the item (a required ref input)",
                            a.command
                        ),
                    );
                }
            }
            if h.group.is_some() && !h.actions.is_empty() {
                self.problem(format!("{base}.actions"), "a grouped block lists no items to act on");
            }
        }
    }

    fn views(&mut self) {
        let m = self.manifest;
        for (cname, view) in &m.views {
            let base = format!("views.{cname}");
            let Some(coll) = m.collections.get(cname) else {
                self.problem(&base, format!("there is no collection {cname}"));
                continue;
            };
            let has = |f: &str| coll.fields.contains_key(f) || RESERVED_FIELDS.contains(&f);
            let mut missing = Vec::new();
            if let Some(t) = &view.title_field
                && !has(t)
            {
                missing.push(("title_field", t.clone()));
            }
            for c in &view.list_columns {
                if !has(c) {
                    missing.push(("list_columns", c.clone()));
                }
            }
            for c in &view.form_fields {
                if !coll.fields.contains_key(c) {
                    missing.push(("form_fields", c.clone()));
                }
            }
            if let Some(s) = &view.stage_field {
                match coll.fields.get(s) {
                    Some(f) if matches!(f.kind, FieldType::Enum | FieldType::Ref) => {}
                    _ => self
                        .problem(format!("{base}.stage_field"), format!("{s} is not an enum or ref field of {cname}")),
                }
            }
            if let Some(cal) = &view.calendar {
                for f in std::iter::once(&cal.start).chain(cal.end.iter()) {
                    match coll.fields.get(f) {
                        Some(spec) if matches!(spec.kind, FieldType::Date | FieldType::Datetime) => {}
                        _ => self.problem(format!("{base}.calendar"), format!("{f} is not a date field of {cname}")),
                    }
                }
            }
            if let Some(cmd) = &view.timeline_command
                && m.command(cmd).is_none()
            {
                self.problem(format!("{base}.timeline_command"), format!("there is no command {cmd}"));
            }
            if let Some(cmd) = &view.move_command {
                match (m.command(cmd), &view.stage_field) {
                    (None, _) => self.problem(format!("{base}.move_command"), format!("there is no command {cmd}")),
                    (Some(_), None) => self.problem(format!("{base}.move_command"), "needs a stage_field"),
                    (Some(c), Some(stage)) if !(c.input.contains_key("id") && c.input.contains_key(stage)) => {
                        self.problem(format!("{base}.move_command"), format!("{cmd} must take `id` and `{stage}`"))
                    }
                    _ => {}
                }
            }
            for (key, field) in missing {
                self.problem(format!("{base}.{key}"), format!("{field} is not a field of {cname}"));
            }
        }
    }
}

/// True when a plugin built against WIT `plugin` runs on a kernel implementing `kernel`:
/// same major version (same minor for 0.x), and not newer than the kernel's.
pub fn wit_compatible(plugin: &Version, kernel: &Version) -> bool {
    let same_line = if kernel.major == 0 {
        plugin.major == 0 && plugin.minor == kernel.minor
    } else {
        plugin.major == kernel.major
    };
    same_line && plugin <= kernel && plugin.pre.is_empty()
}

/// True for a notification kind: dotted lower-case words such as `collaboration.mention`, at
/// most 100 characters, starting with its source (a plugin's name or `kernel`).
pub fn is_kind_of(kind: &str, source: &str) -> bool {
    kind.len() <= 100
        && kind.strip_prefix(source).and_then(|rest| rest.strip_prefix('.')).is_some_and(|rest| {
            !rest.is_empty()
                && rest.split('.').all(|w| {
                    !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                })
        })
}

/// Checks an event name a plugin wants to publish: `<plugin>.<name>[.<more>]`.
pub fn check_publish_name(plugin: &str, name: &str) -> Result<(), String> {
    let Some(rest) = name.strip_prefix(plugin).and_then(|r| r.strip_prefix('.')) else {
        return Err(format!("{plugin} may only publish events named {plugin}.<something>, not {name}"));
    };
    if rest.is_empty() || name.len() > 128 || name.ends_with(".*") || !is_event_pattern(name) {
        return Err(format!("{name:?} is not an event name like {plugin}.deal.won"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit() -> Vec<Version> {
        vec![Version::new(0, 1, 1)]
    }

    /// 1-based line of the first line containing `needle`.
    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).expect("needle present") + 1
    }

    const GOOD: &str = r#"
[plugin]
name = "shop"
version = "1.2.0"
wit = "0.1.0"
description = "A shop"

[dependencies]
crm = "^0.1"

[[permissions]]
name = "shop.order.read"
default_roles = ["member"]

[collections.order]
read_permission = "shop.order.read"
[collections.order.fields.number]
type = "text"
required = true
unique = true
[collections.order.fields.customer]
type = "ref"
to = "crm.customer"
[collections.order.fields.status]
type = "enum"
values = ["new", "paid"]
default = "new"

[[commands]]
name = "pay"
permission = "shop.order.write"

[[schedules]]
name = "nightly"
cron = "0 3 * * *"

[views.order]
title_field = "number"
stage_field = "status"
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = parse(GOOD, &wit()).expect("valid");
        assert_eq!(m.name(), "shop");
        assert_eq!(m.read_permission("order"), "shop.order.read");
        assert_eq!(m.write_permission("order"), "shop.order.write");
        assert!(m.defined_permissions().contains("shop.order.sensitive"));
        assert_eq!(m.default_permissions("member"), vec!["shop.order.read".to_string()]);
        assert_eq!(m.limits().memory_bytes, 64 * 1024 * 1024);
    }

    #[test]
    fn a_lines_total_must_sum_numeric_columns_of_a_line_field() {
        let lines = "\n[collections.order.fields.lines]\ntype = \"json\"\n[collections.order.fields.lines.line.qty]\ntype = \"int\"\n[collections.order.fields.lines.line.note]\ntype = \"text\"\n";
        let good = format!(
            "{GOOD}{lines}[collections.order.fields.total]\ntype = \"decimal\"\nlines_total = {{ lines = \"lines\", product = [\"qty\"] }}\n"
        );
        parse(&good, &wit()).expect("a total of a numeric column");
        let bad = format!(
            "{GOOD}{lines}[collections.order.fields.total]\ntype = \"text\"\nlines_total = {{ lines = \"lines\", product = [\"note\", \"qty\"] }}\n[collections.order.fields.other]\ntype = \"decimal\"\nlines_total = {{ lines = \"number\", product = [\"qty\"] }}\n"
        );
        let problems = parse(&bad, &wit()).expect_err("bad totals");
        let mut paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "collections.order.fields.other.lines_total.lines",
                "collections.order.fields.total.lines_total",
                "collections.order.fields.total.lines_total.product.0"
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_keys_are_reported_with_their_lines() {
        let text = GOOD.replace("description = \"A shop\"", "description = \"A shop\"\ncolour = \"red\"")
            + "\n[collections.order.fields.extra]\ntype = \"text\"\nwidth = 3\n";
        let problems = parse(&text, &wit()).expect_err("unknown keys");
        let found: Vec<(Option<usize>, &str)> = problems.iter().map(|p| (p.line, p.path.as_str())).collect();
        assert_eq!(
            found,
            vec![
                (Some(line_of(&text, "colour = ")), "plugin.colour"),
                (Some(line_of(&text, "width = 3")), "collections.order.fields.extra.width")
            ]
        );
    }

    #[test]
    fn wrong_types_are_reported_with_their_line() {
        let text = GOOD.replace("required = true", "required = \"yes\"");
        let problems = parse(&text, &wit()).expect_err("wrong type");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(line_of(&text, "required = \"yes\"")), "{}", problems[0]);
        assert!(problems[0].message.contains("bool"), "{}", problems[0]);
    }

    #[test]
    fn demo_data_is_declared_and_checked() {
        let base = format!("{GOOD}\n[config.currency]\ntype = \"text\"\nmax_length = 3\n");
        let good = format!(
            "{base}\n[demo]\nafter = [\"crm\"]\nwebhook_secret = \"demo-secret-0123456\"\nconfig = {{ currency = \"RUB\" }}\n"
        );
        let m = parse(&good, &wit()).expect("valid");
        let demo = m.demo.as_ref().expect("a demo");
        assert_eq!(demo.after, vec!["crm".to_string()]);
        assert_eq!(demo.config_json(), serde_json::json!({ "currency": "RUB" }));
        assert!(parse(&base, &wit()).expect("valid").demo.is_none());

        let bad = format!(
            "{base}\n[demo]\nafter = [\"shop\", \"Bad Name\"]\nwebhook_secret = \"short\"\nconfig = {{ currency = \"RUBLES\", colour = 1 }}\nseed = 1\n"
        );
        let problems = parse(&bad, &wit()).expect_err("bad demo");
        let paths: BTreeSet<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for path in [
            "demo.after.0",
            "demo.after.1",
            "demo.webhook_secret",
            "demo.config.currency",
            "demo.config.colour",
            "demo.seed",
        ] {
            assert!(paths.contains(path), "{path} in {problems:?}");
        }
    }

    #[test]
    fn ui_hints_are_read_and_checked() {
        let text = GOOD
            .replace(
                "name = \"pay\"\npermission = \"shop.order.write\"\n",
                "name = \"pay\"\npermission = \"shop.order.write\"\nreport = true\nchart = { rows = \"orders\", label = \"number\", value = \"total\" }\n",
            )
            .replace("stage_field = \"status\"", "stage_field = \"status\"\nmenu = false");
        let m = parse(&text, &wit()).expect("valid");
        let pay = m.command("pay").expect("pay");
        assert!(pay.report);
        assert_eq!(pay.chart.as_ref().map(|c| c.value.as_str()), Some("total"));
        assert_eq!(m.views["order"].menu, Some(false));

        // A move command must exist and take the record and its stage.
        let moving = GOOD.replace("stage_field = \"status\"", "stage_field = \"status\"\nmove_command = \"pay\"");
        let problems = parse(&moving, &wit()).expect_err("pay takes no id and status");
        assert!(
            problems.iter().any(|p| p.path == "views.order.move_command" && p.message.contains("must take")),
            "{problems:?}"
        );
        let missing = GOOD.replace("stage_field = \"status\"", "stage_field = \"status\"\nmove_command = \"ship\"");
        let problems = parse(&missing, &wit()).expect_err("no such command");
        assert!(problems.iter().any(|p| p.message == "there is no command ship"), "{problems:?}");
    }

    #[test]
    fn type_errors_in_several_places_are_all_reported() {
        let text = GOOD.replace("required = true", "required = \"yes\"").replace(
            "[[commands]]\nname = \"pay\"\npermission = \"shop.order.write\"",
            "[[commands]]\nname = 5\npermission = \"shop.order.write\"\n\n[[commands]]\nname = \"refund\"\npermission = \"shop.order.write\"\ncolour = 1",
        );
        let problems = parse(&text, &wit()).expect_err("several problems");
        let found: Vec<(Option<usize>, &str)> = problems.iter().map(|p| (p.line, p.path.as_str())).collect();
        assert_eq!(
            found,
            vec![
                (Some(line_of(&text, "required = \"yes\"")), "collections.order.fields.number.required"),
                (Some(line_of(&text, "name = 5")), "commands.0.name"),
                (Some(line_of(&text, "colour = 1")), "commands.1.colour"),
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let text = GOOD
            .replace("name = \"shop\"", "name = \"Shop!\"")
            .replace("wit = \"0.1.0\"", "wit = \"0.2.0\"")
            .replace("values = [\"new\", \"paid\"]", "values = []")
            .replace("cron = \"0 3 * * *\"", "cron = \"every night\"")
            .replace("stage_field = \"status\"", "stage_field = \"number\"");
        let problems = parse(&text, &wit()).expect_err("invalid");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "plugin.name",
            "plugin.wit",
            "collections.order.fields.status.values",
            "schedules.0.cron",
            "views.order.stage_field",
        ] {
            assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
        }
        assert!(problems.iter().all(|p| p.line.is_some()), "{problems:?}");
    }

    const REPORT: &str = r#"
[[commands]]
name = "sales"
permission = "shop.order.read"
report = true
period = "year"
label = { en = "Sales", ru = "Продажи" }
[[commands.columns]]
rows = "orders"
key = "customer"
type = "ref"
to = "crm.customer"
label = { en = "Customer", ru = "Клиент" }
[[commands.columns]]
rows = "orders"
key = "status"
type = "enum"
value_labels = { new = { en = "New", ru = "Новый" } }
label = { en = "Status", ru = "Статус" }
[[commands.columns]]
rows = "orders"
key = "total"
type = "money"
total = true
label = { en = "Total", ru = "Сумма" }
[[commands.columns]]
key = "totals.count"
type = "int"
label = { en = "Orders", ru = "Заказов" }
"#;

    #[test]
    fn presentation_keys_are_read_in_order() {
        let text = GOOD.replace(
            "default = \"new\"\n",
            "default = \"new\"\ncomputed = true\nvalue_labels = { new = { en = \"New\", ru = \"Новый\" }, paid = { en = \"Paid\", ru = \"Оплачен\" } }\n",
        ) + REPORT;
        let m = parse(&text, &wit()).expect("valid");
        let status = &m.collections["order"].fields["status"];
        assert!(status.computed);
        assert_eq!(status.value_labels["paid"].text("ru"), "Оплачен");
        let sales = m.command("sales").unwrap();
        assert_eq!(sales.period, Some(Period::Year));
        let keys: Vec<&str> = sales.columns.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["customer", "status", "total", "totals.count"]);
        assert_eq!(sales.columns[2].kind, ColumnType::Money);
        assert!(sales.columns[2].total);
        assert_eq!(sales.columns[3].rows, None);
        let labels = m.labels();
        assert!(labels.iter().any(|(p, l)| p == "collections.order.fields.status.value_labels.paid" && l.is_some()));
        assert!(labels.iter().any(|(p, l)| p == "collections.order.fields.number.label" && l.is_none()));
    }

    #[test]
    fn presentation_mistakes_are_reported_with_their_paths() {
        let text = GOOD
            .replace("default = \"new\"\n", "default = \"new\"\nvalue_labels = { shipped = { en = \"Shipped\" } }\n")
            .replace(
                "unique = true\n",
                "unique = true\ncomputed = true\nvalue_labels = { x = \"X\" }\nlabel = { ru = \"Номер\" }\n",
            )
            .replace("permission = \"shop.order.write\"\n", "permission = \"shop.order.write\"\nperiod = \"month\"\n")
            + &REPORT
                .replace("to = \"crm.customer\"\n", "")
                .replace("type = \"money\"", "type = \"text\"")
                .replace("value_labels = { new = { en = \"New\", ru = \"Новый\" } }\n", "")
                .replace("label = { en = \"Orders\", ru = \"Заказов\" }", "label = { en = \"Orders\", RU = \"\" }");
        let problems = parse(&text, &wit()).expect_err("invalid");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "collections.order.fields.status.value_labels.shipped",
            "collections.order.fields.number.value_labels",
            "collections.order.fields.number.computed",
            "collections.order.fields.number.label",
            "commands.0.period",
            "commands.1.columns.0.to",
            "commands.1.columns.1.value_labels",
            "commands.1.columns.2.total",
            "commands.1.columns.3.label",
        ] {
            assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
        }
        assert!(problems.iter().all(|p| p.line.is_some()), "{problems:?}");
    }

    #[test]
    fn start_page_blocks_are_checked() {
        let good = format!(
            "{GOOD}{REPORT}\n[[home]]\nname = \"open-orders\"\nlabel = {{ en = \"Open orders\", ru = \"Открытые заказы\" }}\ncollection = \"order\"\nfilter = {{ field = \"status\", op = \"eq\", value = \"new\" }}\nsort = \"-created_at\"\n[[home.actions]]\ncommand = \"sales\"\nlabel = {{ en = \"Pay\", ru = \"Оплатить\" }}\n\n[[home]]\nname = \"orders\"\nlabel = {{ en = \"Orders\", ru = \"Заказы\" }}\ncommand = \"sales\"\nkey = \"totals.count\"\ntype = \"int\"\n"
        );
        let problems = parse(&good, &wit()).expect_err("the action takes no order");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["home.0.actions.0.command"]);
        let fixed =
            good.replace("[[home.actions]]\ncommand = \"sales\"\nlabel = { en = \"Pay\", ru = \"Оплатить\" }\n", "");
        let m = parse(&fixed, &wit()).expect("valid");
        assert_eq!(m.home.len(), 2);
        assert_eq!(m.home[1].kind, ColumnType::Int);
        let bad = fixed
            .replace("collection = \"order\"", "collection = \"ghost\"")
            .replace("key = \"totals.count\"", "key = \"totals.count\"\nrows = \"orders\"");
        let problems = parse(&bad, &wit()).expect_err("invalid");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"home.0.collection") && paths.contains(&"home.1.rows"), "{paths:?}");
    }

    #[test]
    fn wit_compatibility_follows_semver() {
        let k = Version::new(0, 1, 1);
        assert!(wit_compatible(&Version::new(0, 1, 0), &k));
        assert!(wit_compatible(&Version::new(0, 1, 1), &k));
        assert!(!wit_compatible(&Version::new(0, 1, 2), &k));
        assert!(!wit_compatible(&Version::new(0, 2, 0), &k));
        assert!(wit_compatible(&Version::new(1, 0, 0), &Version::new(1, 3, 0)));
        assert!(!wit_compatible(&Version::new(2, 0, 0), &Version::new(1, 3, 0)));
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("30s"), Some(30));
        assert_eq!(parse_interval("15m"), Some(900));
        assert_eq!(parse_interval("1d"), Some(86_400));
        assert_eq!(parse_interval("0h"), None);
        assert_eq!(parse_interval("h"), None);
        assert_eq!(parse_interval("5w"), None);
    }

    #[test]
    fn record_rules_need_an_indexed_text_owner_field() {
        let good = GOOD.replace(
            "read_permission = \"shop.order.read\"\n",
            "read_permission = \"shop.order.read\"\nowner_field = \"number\"\n",
        );
        let m = parse(&good, &wit()).expect("valid");
        assert_eq!(m.owner_rule("order"), Some(("number".to_string(), "shop.order.all".to_string())));
        assert!(m.defined_permissions().contains("shop.order.all"));
        for (rule, path) in [
            ("owner_field = \"status\"\n", "collections.order.owner_field"),
            ("owner_field = \"ghost\"\n", "collections.order.owner_field"),
            ("all_permission = \"shop.order.all\"\n", "collections.order.all_permission"),
            ("owner_field = \"number\"\nall_permission = \"crm.deal.all\"\n", "collections.order.all_permission"),
        ] {
            let bad = GOOD.replace(
                "read_permission = \"shop.order.read\"\n",
                &format!("read_permission = \"shop.order.read\"\n{rule}"),
            );
            let problems = parse(&bad, &wit()).expect_err(rule);
            assert!(problems.iter().any(|p| p.path == path), "{rule}: {problems:?}");
        }
    }

    #[test]
    fn a_record_rule_may_name_a_list_of_members_and_bind_everyone() {
        let fields = "[collections.order.fields.members]\ntype = \"json\"\nitems = \"user\"\nindexed = true\n\
                      [collections.order.fields.public]\ntype = \"bool\"\nindexed = true\n";
        let with = |rule: &str| {
            GOOD.replace(
                "read_permission = \"shop.order.read\"\n",
                &format!("read_permission = \"shop.order.read\"\n{rule}"),
            )
            .replace("[collections.order.fields.number]", &format!("{fields}[collections.order.fields.number]"))
        };
        let m = parse(&with("owner_field = \"members\"\nopen_field = \"public\"\nmembers_only = true\n"), &wit())
            .expect("valid");
        let rule = m.record_rule("order").expect("a rule");
        assert!(rule.list && rule.strict);
        assert_eq!(rule.open_field.as_deref(), Some("public"));
        for (rule, path) in [
            ("open_field = \"public\"\n", "collections.order.open_field"),
            ("owner_field = \"members\"\nopen_field = \"number\"\n", "collections.order.open_field"),
            ("members_only = true\n", "collections.order.members_only"),
            (
                "owner_field = \"members\"\nmembers_only = true\nall_permission = \"shop.order.all\"\n",
                "collections.order.members_only",
            ),
        ] {
            let problems = parse(&with(rule), &wit()).expect_err(rule);
            assert!(problems.iter().any(|p| p.path == path), "{rule}: {problems:?}");
        }
        // A list of users that is not indexed cannot carry the rule.
        let unindexed =
            with("owner_field = \"members\"\n").replacen("items = \"user\"\nindexed = true", "items = \"user\"", 1);
        let problems = parse(&unindexed, &wit()).expect_err("unindexed");
        assert!(problems.iter().any(|p| p.path == "collections.order.owner_field"), "{problems:?}");
    }

    #[test]
    fn plugins_publish_only_under_their_own_name() {
        assert!(check_publish_name("crm", "crm.deal.won").is_ok());
        assert!(check_publish_name("crm", "crmx.deal.won").is_err());
        assert!(check_publish_name("crm", "accounting.invoice.paid").is_err());
        assert!(check_publish_name("crm", "crm.").is_err());
        assert!(check_publish_name("crm", "crm.deal.*").is_err());
        assert!(check_publish_name("crm", "crm.Deal Won").is_err());
    }
    #[test]
    fn mail_needs_wit_0_2_2() {
        let v = vec![Version::new(0, 2, 2)];
        let with_mail = |wit: &str| {
            format!("{}\n[mail]\nreason = \"Replies to customers\"\n", GOOD.replace("wit = \"0.1.0\"", wit))
        };
        let m = parse(&with_mail("wit = \"0.2.2\""), &v).expect("valid");
        assert_eq!(m.mail.map(|s| s.reason), Some("Replies to customers".to_string()));
        let problems: Vec<String> =
            parse(&with_mail("wit = \"0.2.1\""), &v).expect_err("refused").iter().map(ToString::to_string).collect();
        assert!(problems.iter().any(|p| p.contains("mail") && p.contains("0.2.2")), "{problems:?}");
        let unknown = format!(
            "{}\n[mail]\nreason = \"x\"\nrelay = \"smtp.example.com\"\n",
            GOOD.replace("wit = \"0.1.0\"", "wit = \"0.2.2\"")
        );
        assert!(parse(&unknown, &v).is_err(), "unknown keys in [mail] are refused");
    }

    #[test]
    fn documents_are_checked() {
        let v = vec![Version::new(0, 2, 4)];
        let doc = |wit: &str, body: &str| format!("{}\n[[documents]]\n{body}", GOOD.replace("wit = \"0.1.0\"", wit));
        let good = "name = \"invoice\"\ncollection = \"order\"\nlabel = { en = \"Invoice\", ru = \"Счёт\" }\ntemplates = { ru = \"documents/invoice.ru.typ\", en = \"documents/invoice.en.typ\" }\n";
        let m = parse(&doc("wit = \"0.2.4\"", good), &v).expect("valid");
        assert_eq!(m.documents[0].language_for("en"), Some("en"));
        assert_eq!(m.documents[0].language_for("de"), Some("en"), "the first declared language");
        let problems = |text: String| -> Vec<String> {
            parse(&text, &v).expect_err("refused").iter().map(ToString::to_string).collect()
        };
        let old = problems(doc("wit = \"0.2.3\"", good));
        assert!(old.iter().any(|p| p.contains("0.2.4")), "{old:?}");
        let bad = problems(doc(
            "wit = \"0.2.4\"",
            "name = \"Invoice\"\ncollection = \"ghost\"\nlabel = { en = \"Invoice\", ru = \"Счёт\" }\ntemplates = { russian = \"../secret.typ\" }\n",
        ));
        for expected in ["documents.0.name", "documents.0.collection", "documents.0.templates.russian"] {
            assert!(bad.iter().any(|p| p.contains(expected)), "{expected} in {bad:?}");
        }
        assert!(is_template_path("documents/act.ru.typ"));
        assert!(!is_template_path("/etc/act.typ") && !is_template_path("a/../b.typ") && !is_template_path("a.txt"));
    }

    #[test]
    fn hosts_are_checked() {
        let v = vec![Version::new(0, 2, 1)];
        let base = GOOD.replace("wit = \"0.1.0\"", "wit = \"0.2.1\"");
        let good = format!(
            "{base}\n[[hosts]]\nurl = \"https://API.telegram.org/\"\nreason = \"Replies\"\n\n[[hosts]]\nurl = \"https://*.example.com:8443\"\n"
        );
        let m = parse(&good, &v).expect("valid");
        assert_eq!(m.declared_hosts(), vec!["https://api.telegram.org", "https://*.example.com:8443"]);
        let bad = format!(
            "{base}\n[[hosts]]\nurl = \"https://example.com/path\"\n\n[[hosts]]\nurl = \"https://a.example.com\"\n\n[[hosts]]\nurl = \"https://A.example.com:443\"\n"
        );
        let problems: Vec<String> = parse(&bad, &v).expect_err("refused").iter().map(ToString::to_string).collect();
        assert!(problems.iter().any(|p| p.contains("hosts.0.url")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("hosts.2.url") && p.contains("twice")), "{problems:?}");
        let old = format!("{GOOD}\n[[hosts]]\nurl = \"https://api.telegram.org\"\n");
        let problems: Vec<String> = parse(&old, &wit()).expect_err("refused").iter().map(ToString::to_string).collect();
        assert!(problems.iter().any(|p| p.contains("WIT 0.2.1")), "{problems:?}");
    }
}
