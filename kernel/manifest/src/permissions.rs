//! Permission strings (`plugin.resource.action`, `kernel.members.manage`) and how grants
//! match them. A grant may end in `.*` to cover a whole subtree; `*` covers everything.

/// View the company's details.
pub const COMPANY_READ: &str = "kernel.company.read";
/// Change the company's details and settings (time zone, currency, bank account).
pub const COMPANY_MANAGE: &str = "kernel.company.manage";
/// List members.
pub const MEMBERS_READ: &str = "kernel.members.read";
/// Add, change and remove members.
pub const MEMBERS_MANAGE: &str = "kernel.members.manage";
/// List roles.
pub const ROLES_READ: &str = "kernel.roles.read";
/// Create, change and delete custom roles.
pub const ROLES_MANAGE: &str = "kernel.roles.manage";
/// Read the audit log.
pub const AUDIT_READ: &str = "kernel.audit.read";

/// Enable, configure and disable plugins for the company.
pub const PLUGINS_MANAGE: &str = "kernel.plugins.manage";

/// Read the event log with delivery states.
pub const EVENTS_READ: &str = "kernel.events.read";
/// Replay dead-lettered deliveries.
pub const EVENTS_MANAGE: &str = "kernel.events.manage";

/// Every permission the kernel itself defines, with a description.
pub const KERNEL_PERMISSIONS: &[(&str, &str)] = &[
    (COMPANY_READ, "View the company"),
    (COMPANY_MANAGE, "Change the company's details and settings"),
    (MEMBERS_READ, "List the company's members"),
    (MEMBERS_MANAGE, "Add, change and remove members"),
    (ROLES_READ, "List roles"),
    (ROLES_MANAGE, "Create, change and delete custom roles"),
    (AUDIT_READ, "Read the audit log"),
    (PLUGINS_MANAGE, "Enable, configure and disable plugins"),
    (EVENTS_READ, "Read the event log and delivery states"),
    (EVENTS_MANAGE, "Replay dead-lettered deliveries"),
];

/// True when `grant` allows `required`. `required` is always a concrete permission.
pub fn grants(grant: &str, required: &str) -> bool {
    if grant == "*" || grant == required {
        return true;
    }
    match grant.strip_suffix(".*") {
        Some(prefix) => {
            required.len() > prefix.len() + 1
                && required.starts_with(prefix)
                && required.as_bytes()[prefix.len()] == b'.'
        }
        None => false,
    }
}

/// True when the grants together are at least as broad as `wanted`, which may itself be a
/// wildcard. Used to stop anyone handing out more than they hold.
pub fn covers(held: &[String], wanted: &str) -> bool {
    held.iter().any(|g| {
        if g == "*" || g == wanted {
            return true;
        }
        let Some(prefix) = g.strip_suffix(".*") else {
            return false;
        };
        let target = wanted.strip_suffix(".*").unwrap_or(wanted);
        target.len() > prefix.len() + 1 && target.starts_with(prefix) && target.as_bytes()[prefix.len()] == b'.'
    })
}

/// True when the permission string is well-formed: `*`, or dot-separated segments of
/// `[a-z][a-z0-9_-]*`, optionally ending in `.*`.
pub fn is_valid(permission: &str) -> bool {
    if permission == "*" {
        return true;
    }
    if permission.len() > 128 {
        return false;
    }
    let body = permission.strip_suffix(".*").unwrap_or(permission);
    !body.is_empty()
        && body.split('.').all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn grant_matching() {
        let cases = [
            ("*", "crm.deal.write", true),
            ("crm.deal.write", "crm.deal.write", true),
            ("crm.*", "crm.deal.write", true),
            ("crm.deal.*", "crm.deal.write", true),
            ("crm.*", "crmx.deal.write", false),
            ("crm.deal.read", "crm.deal.write", false),
            ("crm.*", "crm", false),
        ];
        for (grant, required, expected) in cases {
            assert_eq!(grants(grant, required), expected, "{grant} vs {required}");
        }
    }

    #[test]
    fn covering_wildcards() {
        assert!(covers(&held(&["*"]), "crm.*"));
        assert!(covers(&held(&["crm.*"]), "crm.deal.*"));
        assert!(!covers(&held(&["crm.deal.*"]), "crm.*"));
        assert!(!covers(&held(&["crm.deal.read"]), "*"));
        assert!(covers(&held(&["crm.deal.read"]), "crm.deal.read"));
    }

    #[test]
    fn validity() {
        for ok in ["*", "crm.deal.write", "kernel.members.manage", "crm.*", "hr_x.a-b"] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", ".", "crm..x", "Crm.deal", "crm.deal.", "*.crm", "crm.*.x", "1crm", "crm deal"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
