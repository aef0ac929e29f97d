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
    }
}

diesel::table! {
    companies (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
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

diesel::joinable!(memberships -> companies (company_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(tokens -> users (user_id));
diesel::joinable!(roles -> companies (company_id));

diesel::allow_tables_to_appear_in_same_query!(users, companies, roles, memberships, tokens, audit_log);
