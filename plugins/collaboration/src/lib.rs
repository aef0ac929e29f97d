//! Collaboration: chats, workgroups and projects, comments on any record, an activity feed
//! and a drive.
//!
//! Everything private is a members-only record (`members_only` in the manifest): the list
//! of people in its `members` or `readers` field is the only way in, for the API, search,
//! files and the event log alike. This plugin sees past that rule, so each command checks
//! the caller's place itself before it reads or changes anything (`people::me`).

mod chats;
mod comments;
mod demo;
mod drive;
mod feed;
mod groups;
mod notices;
mod people;

use erp_sdk::{Error, Event, Plugin, Result, Value};

/// The plugin.
pub struct Collaboration;

impl Plugin for Collaboration {
    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "chats" => chats::list(),
            "open-direct" => chats::open_direct(&input),
            "create-chat" => chats::create(&input),
            "add-chat-members" => chats::add_members(&input),
            "leave-chat" => chats::leave(&input),
            "messages" => chats::messages(&input),
            "post-message" => chats::post(&input),
            "edit-message" => chats::edit(&input),
            "mark-read" => chats::mark_read(&input),
            "search-messages" => chats::search(&input),
            "create-group" => groups::create(&input),
            "add-members" => groups::add_members(&input),
            "remove-member" => groups::remove_member(&input),
            "join-group" => groups::join(&input),
            "post" => feed::post(&input),
            "feed" => feed::feed(&input),
            "comment" => comments::comment(&input),
            "comments" => comments::list(&input),
            "comment-target" => comments::target_of(&input),
            "edit-comment" => comments::edit(&input),
            "drive" => drive::browse(&input),
            "create-folder" => drive::create_folder(&input),
            "upload" => drive::upload(&input),
            "share" => drive::share(&input),
            "trash" => drive::trash(&input),
            "restore" => drive::restore(&input),
            "versions" => drive::versions(&input),
            "access-log" => drive::access_log(&input),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }

    fn event(handler: &str, event: &Event) -> Result<()> {
        match handler {
            "file-downloaded" => drive::downloaded(event),
            other => Err(Error::not_found(format!("handler {other}"))),
        }
    }

    fn schedule(name: &str) -> Result<()> {
        match name {
            "purge-trash" => drive::purge_trash().map(|_| ()),
            other => Err(Error::not_found(format!("schedule {other}"))),
        }
    }

    fn demo(request: &erp_sdk::DemoRequest) -> Result<erp_sdk::DemoAnswer> {
        demo::step(request)
    }
}

erp_sdk::export_plugin!(Collaboration);
