//! The error answers of the OpenAPI document: every operation lists the errors it can give,
//! derived from what it takes (a bearer token, a body, path or query parameters, a company's
//! lane), and every error answer carries the one error body, `{"error": {...}}`; and the
//! schemas of the inputs whose rules the kernel's validators define.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::schema::{Array, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat};
use utoipa::openapi::{Content, Object, OpenApi, Ref, RefOr, Response, Type};

use erp_kernel::identity::passwords::{MAX_LEN, MIN_LEN};
use erp_kernel::paging::MAX_CURSOR_LEN;
use erp_kernel::validation::{MAX_DISPLAY_NAME, MAX_EMAIL};

/// Media type of JSON bodies.
const JSON: &str = "application/json";

/// Operations that change nothing although they are POSTs: they run outside the company's
/// lane, like every other read.
const READS_BY_POST: [&str; 2] = ["/query", "/aggregate"];

/// Company changes that neither run plugin code nor publish events. Every other change in a
/// company may: record validation, synchronous event subscribers, commands and webhooks run
/// plugins, and what they store and publish counts against the quotas.
const WITHOUT_PLUGINS: [&str; 2] = ["/roles", "/replay"];

/// Adds the error answers that follow from what each operation takes, keeping the ones a
/// route describes itself, and gives every error answer the error body.
pub(super) fn add_error_answers(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            complete(path, method, op);
        }
    }
    // An upload's body is the file's content, and an empty file is a file; its name is
    // required (a parameter with its own schema is not marked so by the derive).
    if let Some(op) = doc.paths.paths.get_mut("/api/v1/companies/{id}/files").and_then(|item| item.post.as_mut()) {
        if let Some(body) = op.request_body.as_mut() {
            body.required = Some(utoipa::openapi::Required::False);
        }
        for p in op.parameters.iter_mut().flatten().filter(|p| p.name == "name") {
            p.required = utoipa::openapi::Required::True;
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("patch", &mut item.patch),
        ("head", &mut item.head),
        ("options", &mut item.options),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}

/// What an operation takes, as far as its possible errors go.
struct Takes {
    bearer: bool,
    json_body: bool,
    raw_body: bool,
    path_params: bool,
    query_params: bool,
    database: bool,
    permission: bool,
    lane: bool,
    plugins: bool,
}

impl Takes {
    fn of(path: &str, method: &str, op: &Operation) -> Takes {
        let params = op.parameters.as_deref().unwrap_or_default();
        let body = op.request_body.as_ref();
        let in_company = path == "/api/v1/companies/{id}" || path.starts_with("/api/v1/companies/{id}/");
        let company_scoped = in_company || path.starts_with("/api/v1/hooks/");
        let writes = method != "get" && !READS_BY_POST.iter().any(|suffix| path.ends_with(suffix));
        let bearer = op.security.as_ref().is_some_and(|s| !s.is_empty());
        Takes {
            bearer,
            json_body: body.is_some_and(|b| b.content.contains_key(JSON)),
            raw_body: body.is_some_and(|b| !b.content.contains_key(JSON)),
            path_params: params.iter().any(|p| p.parameter_in == ParameterIn::Path),
            query_params: params.iter().any(|p| p.parameter_in == ParameterIn::Query),
            // The API description and liveness are answered without the database.
            database: path != "/api/v1/openapi.json" && path != "/health",
            // Every company route checks a permission of the caller's role there.
            permission: bearer && in_company,
            lane: company_scoped && writes,
            plugins: company_scoped && writes && !WITHOUT_PLUGINS.iter().any(|part| path.contains(part)),
        }
    }

    /// The error answers that follow, with what they mean here.
    fn errors(&self) -> Vec<(u16, &'static str)> {
        let mut out = Vec::new();
        if self.bearer {
            out.push((401, "the bearer token is missing, invalid, expired or revoked"));
        }
        if self.json_body {
            out.push((400, "the body is not well-formed JSON"));
            out.push((413, "the body is larger than the limit"));
            out.push((415, "the body is not sent as Content-Type: application/json"));
            out.push((422, "the body does not match its schema or fails validation; `fields` names each problem"));
        }
        if self.raw_body {
            out.push((400, "the body could not be read"));
            out.push((413, "the body is larger than the limit"));
        }
        if self.permission {
            out.push((403, "the caller's role in the company lacks a permission this needs"));
        }
        if self.query_params {
            out.push((400, "a query parameter is unknown or invalid; `fields` names it"));
        }
        if self.path_params {
            out.push((404, "no such object, or not one the caller may know about"));
        }
        if self.plugins {
            out.push((500, "a plugin that ran as part of the change failed or hit a limit; nothing was saved"));
            out.push((507, "a storage quota of the company or plugin would be exceeded; nothing was saved"));
        }
        if self.lane {
            out.push((
                503,
                "the company's lane is full, the request ran past its deadline or the database is unavailable; nothing was saved, retry after `Retry-After` seconds",
            ));
        } else if self.database {
            out.push((503, "the database is unavailable; retry after `Retry-After` seconds"));
        }
        out
    }
}

fn complete(path: &str, method: &str, op: &mut Operation) {
    let takes = Takes::of(path, method, op);
    if let Some(body) = op.request_body.as_mut() {
        // Raw bodies (plugin packages, webhook payloads) are bytes, whatever their media type.
        for (media_type, content) in body.content.iter_mut() {
            if media_type != JSON {
                content.schema = Some(binary().into());
            }
        }
    }
    for (status, description) in takes.errors() {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::T(Response::new(description)));
    }
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        let code: u16 = status.parse().unwrap_or(0);
        if code < 400 {
            continue;
        }
        if response.content.is_empty() {
            response.content.insert(JSON.to_string(), Content::new(Some(Ref::from_schema_name("ErrorBody"))));
        }
        if matches!(code, 429 | 503) {
            response.headers.entry("Retry-After".to_string()).or_insert_with(|| {
                let mut header = Header::new(Object::with_type(Type::Integer));
                header.description = Some("Seconds to wait before trying again".to_string());
                header
            });
        }
    }
}

/// Characters `char::is_control` refuses (Unicode Cc), as a character-class range.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// What `str::trim` removes besides controls: Unicode White_Space that is not a control.
const SPACE: &str = r" \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Text without NUL, which no database stores and the API refuses everywhere.
const NO_NUL: &str = r"^[^\x00]*$";
/// A name segment: a lower-case letter, then lower-case letters, digits, `_` or `-`.
const SLUG: &str = "[a-z][a-z0-9_-]*";

/// `type` for a value or `null`.
pub(crate) fn or_null(kind: Type) -> SchemaType {
    SchemaType::from_iter([kind, Type::Null])
}

/// Any bytes.
fn binary() -> Object {
    ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))).build()
}

fn text(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description))
}

/// An IANA time zone name, as `profile::is_time_zone` accepts it: one of the database's.
pub(crate) fn time_zone() -> Object {
    text("An IANA time zone name such as `Europe/Moscow`")
        .enum_values(Some(erp_kernel::identity::profile::time_zone_names()))
        .build()
}

/// A person's own time zone, or `null` to follow each company's.
pub(crate) fn time_zone_or_null() -> Object {
    let mut names: Vec<serde_json::Value> =
        erp_kernel::identity::profile::time_zone_names().into_iter().map(serde_json::Value::from).collect();
    names.push(serde_json::Value::Null);
    ObjectBuilder::new()
        .schema_type(or_null(Type::String))
        .description(Some("An IANA time zone name such as `Asia/Vladivostok`, or null to follow each company's"))
        .enum_values(Some(names))
        .build()
}

/// A currency code: three capital letters.
pub(crate) fn currency() -> Object {
    text("An ISO 4217 code such as `RUB`").pattern(Some("^[A-Z]{3}$")).build()
}

/// A display name, as `validation::is_display_name` accepts it.
pub(crate) fn display_name() -> Object {
    text("1 to 200 characters, not only spaces, no control characters")
        .min_length(Some(1))
        .max_length(Some(MAX_DISPLAY_NAME))
        .pattern(Some(format!("^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$")))
        .build()
}

/// A new user's e-mail, as `validation::is_email` accepts it (compared in lower case).
pub(crate) fn email() -> Object {
    text("E-mail address, at most 254 characters; compared in lower case")
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(MAX_EMAIL))
        .build()
}

/// The e-mail of an existing user.
pub(crate) fn existing_email() -> Object {
    text("E-mail of an existing user").max_length(Some(MAX_EMAIL)).pattern(Some(NO_NUL)).build()
}

/// A new password, as `passwords::policy_problem` accepts it.
pub(crate) fn new_password() -> Object {
    let description = format!(
        "{MIN_LEN} to {MAX_LEN} characters (and at most {MAX_LEN} bytes of UTF-8); not one of the common passwords, not the e-mail address or its local part"
    );
    text(&description)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .min_length(Some(MIN_LEN))
        .max_length(Some(MAX_LEN))
        .pattern(Some(NO_NUL))
        .build()
}

/// A new role's name, as `roles::validate` accepts it: not one of the built-in roles.
pub(crate) fn new_role_name() -> Object {
    text("1 to 64 characters: lower-case letters, digits, `_` or `-`, starting with a letter; not `owner`, `admin` or `member`")
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some(format!("^(?!(?:owner|admin|member)$){SLUG}$")))
        .build()
}

/// The name of a role, built-in or custom.
pub(crate) fn role_name() -> Object {
    text("1 to 64 characters: lower-case letters, digits, `_` or `-`, starting with a letter")
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some(format!("^{SLUG}$")))
        .build()
}

/// A permission, as `permissions::is_valid` accepts it.
pub(crate) fn permission() -> Object {
    text("`*`, or dot-separated names such as `crm.deal.write`, optionally ending in `.*`")
        .max_length(Some(128))
        .pattern(Some(format!(r"^(?:\*|{SLUG}(?:\.{SLUG})*(?:\.\*)?)$")))
        .build()
}

/// A role's permissions, as `roles::validate` accepts them.
pub(crate) fn permissions() -> Array {
    ArrayBuilder::new()
        .items(permission())
        .max_items(Some(500))
        .description(Some("Permissions such as `crm.deal.write` or `crm.*`; at most 500"))
        .build()
}

/// An event name or a prefix ending in `.*`, as `manifest::is_event_pattern` accepts it.
pub(crate) fn event_pattern() -> Object {
    let segment = "[a-z][a-z0-9_-]{0,63}";
    text("An event name, or a prefix ending in `.*` (`crm.deal.*`)")
        .pattern(Some(format!(r"^{segment}(?:\.{segment})*(?:\.\*)?$")))
        .build()
}

/// 1 to 20 event names or prefixes.
pub(crate) fn event_patterns() -> Array {
    ArrayBuilder::new()
        .items(event_pattern())
        .min_items(Some(1))
        .max_items(Some(20))
        .description(Some("1 to 20 event names or prefixes ending in `.*` (`crm.deal.*`)"))
        .build()
}

/// An RFC 3339 time.
pub(crate) fn date_time() -> Object {
    text("RFC 3339 time").format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).build()
}

/// A paging cursor, as `paging::decode_cursor` accepts it: canonical base64url without padding.
pub(crate) fn cursor() -> Object {
    text("The `next_cursor` of the previous page (empty for the first page)")
        .max_length(Some(MAX_CURSOR_LEN))
        .pattern(Some("^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))
        .build()
}

/// A file's name, as `files::names::clean_name` accepts it: its last path part keeps a
/// character other than spaces, dots and control characters.
pub(crate) fn file_name() -> Object {
    text("The file's name, such as `offer.pdf`; a path is cut to its last part")
        .pattern(Some(format!(r"^(?:[^\x00]*[/\\])?[^/\\\x00]*[^/\\.{CONTROL}{SPACE}][^/\\\x00]*$")))
        .build()
}

/// A notification kind, as `notify::is_kind_of` accepts it.
pub(crate) fn notification_kind() -> Object {
    text("A kind such as `crm.activity_due`: its source (a plugin or `kernel`) and lower-case words")
        .max_length(Some(100))
        .pattern(Some("^[a-z][a-z0-9_]*(?:\\.[a-z0-9_]+)+$"))
        .build()
}

/// Where a kind of notification goes.
pub(crate) fn notification_channel() -> Object {
    text("`app` (the bell), `app_and_email`, or `off` (not kept at all)")
        .enum_values(Some(["app", "app_and_email", "off"]))
        .build()
}

/// `true`, the only value that asks for everything.
pub(crate) fn only_true() -> Object {
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::Boolean)).enum_values(Some([true])).build()
}

/// A webhook secret, as `lifecycle::enable` accepts it; `null` keeps the current one.
pub(crate) fn webhook_secret() -> Object {
    ObjectBuilder::new()
        .schema_type(or_null(Type::String))
        .description(Some("Secret that inbound webhooks must present in `X-Webhook-Secret`: 16 to 256 characters"))
        .min_length(Some(16))
        .max_length(Some(256))
        .pattern(Some(NO_NUL))
        .build()
}

/// What a plugin asks for and an admin grants: collections, hosts and e-mail.
pub(crate) fn grants() -> Array {
    ArrayBuilder::new()
        .items(
            text("A collection such as `crm.customer`, a host such as `https://api.telegram.org`, or `mail`")
                .pattern(Some(NO_NUL)),
        )
        .description(Some(
            "What to grant of what the plugin declares: collections of its capabilities (`crm.customer`), \
             hosts it calls (`https://api.telegram.org`), and `mail` for a plugin that sends e-mail",
        ))
        .build()
}
