//! Diesel table definitions for the kernel's own tables; mirrors `migrations/`.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        is_superadmin -> Bool,
        failed_logins -> Integer,
        locked_until -> Nullable<BigInt>,
        created_at -> BigInt,
        time_zone -> Nullable<Text>,
    }
}

diesel::table! {
    login_throttle (email, client) {
        email -> Text,
        client -> Text,
        failures -> Integer,
        locked_until -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    companies (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
        profile -> Text,
    }
}

diesel::table! {
    roles (company_id, name) {
        company_id -> Text,
        name -> Text,
        description -> Text,
        permissions -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    memberships (company_id, user_id) {
        company_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    tokens (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        company_id -> Nullable<Text>,
        actor_id -> Nullable<Text>,
        action -> Text,
        object_type -> Text,
        object_id -> Nullable<Text>,
        outcome -> Text,
        detail -> Text,
        request_id -> Nullable<Text>,
        at -> BigInt,
    }
}

diesel::table! {
    plugins (name) {
        name -> Text,
        version -> Text,
        installed_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    plugin_versions (name, version) {
        name -> Text,
        version -> Text,
        sha256 -> Text,
        wit_version -> Text,
        manifest -> Text,
        package -> Binary,
        installed_at -> BigInt,
        installed_by -> Nullable<Text>,
        templates -> Text,
    }
}

diesel::table! {
    document_templates (company_id, plugin, document, language, version) {
        company_id -> Text,
        plugin -> Text,
        document -> Text,
        language -> Text,
        version -> Integer,
        source -> Text,
        created_at -> BigInt,
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    plugin_artifacts (sha256, engine) {
        sha256 -> Text,
        engine -> Text,
        artifact -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    company_plugins (company_id, plugin) {
        company_id -> Text,
        plugin -> Text,
        config -> Text,
        grants -> Text,
        webhook_secret_hash -> Nullable<Text>,
        enabled_at -> BigInt,
        enabled_by -> Nullable<Text>,
    }
}

diesel::table! {
    records (id) {
        id -> Text,
        company_id -> Text,
        plugin -> Text,
        collection -> Text,
        version -> BigInt,
        data -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        created_by -> Nullable<Text>,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    record_keys (record_id, field) {
        record_id -> Text,
        company_id -> Text,
        plugin -> Text,
        collection -> Text,
        field -> Text,
        key_text -> Nullable<Text>,
        key_num -> Nullable<Double>,
    }
}

diesel::table! {
    record_unique (company_id, plugin, collection, field, value) {
        company_id -> Text,
        plugin -> Text,
        collection -> Text,
        field -> Text,
        value -> Text,
        record_id -> Text,
    }
}

diesel::table! {
    record_refs (from_id, field) {
        from_id -> Text,
        field -> Text,
        to_id -> Text,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        company_id -> Text,
        name -> Text,
        source -> Text,
        payload -> Text,
        actor_id -> Nullable<Text>,
        depth -> Integer,
        occurred_at -> BigInt,
        collection -> Nullable<Text>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        event_id -> Text,
        company_id -> Text,
        plugin -> Text,
        handler -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
        delivered_by -> Nullable<Text>,
    }
}

diesel::table! {
    schedule_runs (company_id, plugin, schedule) {
        company_id -> Text,
        plugin -> Text,
        schedule -> Text,
        next_run_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        last_started_at -> Nullable<BigInt>,
        last_finished_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        runs -> BigInt,
    }
}

diesel::joinable!(memberships -> companies (company_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(tokens -> users (user_id));
diesel::joinable!(roles -> companies (company_id));

diesel::joinable!(company_plugins -> plugins (plugin));
diesel::joinable!(record_keys -> records (record_id));
diesel::joinable!(deliveries -> events (event_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    login_throttle,
    companies,
    roles,
    memberships,
    tokens,
    audit_log,
    plugins,
    plugin_versions,
    document_templates,
    plugin_artifacts,
    company_plugins,
    records,
    record_keys,
    record_unique,
    record_refs,
    events,
    deliveries,
    schedule_runs,
    idempotency_keys,
    plugin_health,
    plugin_usage,
    files,
    file_usage,
    notifications,
    notification_preferences,
    outbound_log,
    outgoing_webhooks,
);

diesel::table! {
    idempotency_keys (owner, idem_key) {
        owner -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status -> Integer,
        response -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    plugin_health (company_id, plugin) {
        company_id -> Text,
        plugin -> Text,
        strikes -> Integer,
        window_start -> BigInt,
        quarantined_at -> Nullable<BigInt>,
        limit_kind -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    plugin_usage (company_id, plugin) {
        company_id -> Text,
        plugin -> Text,
        records -> BigInt,
        bytes -> BigInt,
        events -> BigInt,
    }
}

diesel::table! {
    files (id) {
        id -> Text,
        company_id -> Text,
        sha256 -> Text,
        size -> BigInt,
        name -> Text,
        content_type -> Text,
        uploaded_by -> Nullable<Text>,
        created_at -> BigInt,
        plugin -> Nullable<Text>,
        collection -> Nullable<Text>,
        record_id -> Nullable<Text>,
        field -> Nullable<Text>,
        attached_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    file_usage (company_id) {
        company_id -> Text,
        files -> BigInt,
        bytes -> BigInt,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        company_id -> Text,
        user_id -> Text,
        kind -> Text,
        source -> Text,
        title -> Text,
        body -> Text,
        link -> Nullable<Text>,
        importance -> Text,
        created_at -> BigInt,
        read_at -> Nullable<BigInt>,
        mail_state -> Nullable<Text>,
    }
}

diesel::table! {
    notification_preferences (company_id, user_id, kind) {
        company_id -> Text,
        user_id -> Text,
        kind -> Text,
        channel -> Text,
    }
}

diesel::table! {
    outbound_log (id) {
        id -> Text,
        company_id -> Text,
        source -> Text,
        method -> Text,
        host -> Text,
        status -> Nullable<Integer>,
        outcome -> Text,
        error -> Nullable<Text>,
        duration_ms -> Integer,
        created_at -> BigInt,
    }
}

diesel::table! {
    outgoing_webhooks (id) {
        id -> Text,
        company_id -> Text,
        url -> Text,
        events -> Text,
        description -> Text,
        secret -> Text,
        active -> Bool,
        created_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    mail_settings (company_id) {
        company_id -> Text,
        from_address -> Text,
        from_name -> Text,
        smtp_host -> Text,
        smtp_port -> Integer,
        smtp_security -> Text,
        smtp_username -> Text,
        smtp_password -> Nullable<Text>,
        imap_host -> Text,
        imap_port -> Integer,
        imap_security -> Text,
        imap_username -> Text,
        imap_password -> Nullable<Text>,
        imap_folder -> Text,
        deliver_to -> Text,
        imap_uid_validity -> Nullable<BigInt>,
        imap_last_uid -> Nullable<BigInt>,
        imap_checked_at -> Nullable<BigInt>,
        imap_error -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    mail_received (company_id, message_id) {
        company_id -> Text,
        message_id -> Text,
        received_at -> BigInt,
        status -> Integer,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        company_id -> Text,
        source -> Text,
        recipient -> Text,
        subject -> Text,
        message -> Text,
        status -> Text,
        attempts -> Integer,
        next_at -> BigInt,
        error -> Nullable<Text>,
        message_id -> Nullable<Text>,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
        mail_key -> Nullable<Text>,
        unsubscribed_at -> Nullable<BigInt>,
        bounced_at -> Nullable<BigInt>,
    }
}
