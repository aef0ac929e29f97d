//! Sample collaboration for `erp serve --demo`: an open workgroup and a private project with
//! their chats, feeds and folders; a direct chat and a group chat with replies, a mention and
//! an edit; company posts; drive folders with files (one in two versions, one shared); and
//! comments with a mention on a drive file.

use erp_sdk::store::{self, Record};
use erp_sdk::{DemoAnswer, DemoRequest, Result, Value, files};

use crate::chats::{self, Chat, NewMessage};
use crate::comments::{self, NewComment};
use crate::drive;
use crate::feed;
use crate::groups;

/// Everything in one step: it is small.
pub fn step(request: &DemoRequest) -> Result<DemoAnswer> {
    let ids: Vec<String> = request.people.iter().map(|p| p.user_id.clone()).collect();
    let Some(owner) = ids.first().cloned() else { return Ok(DemoAnswer::done()) };
    let anna = ids.get(1).cloned().unwrap_or_else(|| owner.clone());
    let ivan = ids.get(2).cloned().unwrap_or_else(|| owner.clone());

    let sales = groups::create_for(
        &owner,
        "Отдел продаж",
        Some("Планы, сделки недели и обмен опытом".into()),
        "workgroup",
        true,
        &ids,
        None,
    )?;
    let launch = groups::create_for(
        &owner,
        "Запуск новой коллекции",
        Some("Закрытый проект: ассортимент, цены и дата запуска".into()),
        "project",
        false,
        &[owner.clone(), anna.clone()],
        Some(plus_days(&request.today, 45)),
    )?;

    feed::post_as(
        &owner,
        "Коллеги, с понедельника работаем в новой CRM. Вопросы — в чат «Отдел продаж».",
        None,
        None,
        &[],
    )?;
    feed::post_as(
        &anna,
        "Итоги недели: закрыли 4 сделки, выручка 1 280 000 ₽. Спасибо всем!",
        text_of(&sales, "id"),
        None,
        std::slice::from_ref(&ivan),
    )?;
    feed::post_as(&owner, "Черновик ассортимента готов, жду замечаний до пятницы.", text_of(&launch, "id"), None, &[])?;

    let team = chat(text_of(&sales, "chat"))?;
    let first = say(&anna, &team, "Доброе утро! Кто возьмёт звонок ООО «Ромашка» в 11:00?", None, &[])?;
    say(&ivan, &team, "Я возьму, как раз готовлю им КП.", Some(first), &[])?;
    let plan =
        say(&owner, &team, "Иван, после звонка занеси итоги в сделку, пожалуйста.", None, std::slice::from_ref(&ivan))?;
    chats::edit_as(&owner, &plan, "Иван, после звонка занеси итоги в сделку и поставь задачу на отправку договора.")?;

    let private = chat(text_of(&launch, "chat"))?;
    say(
        &owner,
        &private,
        "Анна, посмотри цены на новую коллекцию в папке проекта.",
        None,
        std::slice::from_ref(&anna),
    )?;
    say(&anna, &private, "Посмотрела: на кресла предлагаю −5%, остальное ок.", None, &[])?;

    if anna != owner {
        let direct = chats::open_direct_for(&owner, &anna)?;
        let direct = chat(direct["id"].as_str())?;
        say(&anna, &direct, "Дмитрий, подпишете сегодня счёт для «Вектора»?", None, &[])?;
        say(&owner, &direct, "Да, после обеда.", None, &[])?;
    }

    let templates = drive::company_folder(&owner, "Шаблоны документов")?;
    let contract =
        put(&owner, &templates, "Договор поставки.txt", "Договор поставки № ___\n\nПоставщик: ООО «Демо Мебель»\n")?;
    put(
        &anna,
        &templates,
        "Договор поставки.txt",
        "Договор поставки № ___\n\nПоставщик: ООО «Демо Мебель», ИНН 7701234567\nСрок оплаты: 14 дней\n",
    )?;
    put(
        &owner,
        &templates,
        "Прайс-лист.csv",
        "Артикул;Наименование;Цена\nK-101;Кресло офисное;12 500\nS-200;Стол рабочий;18 900\n",
    )?;
    if let Some(folder) = text_of(&launch, "folder") {
        let project = drive::folder_record(folder)?;
        put(&owner, &project, "Ассортимент.md", "# Новая коллекция\n\n- Кресло «Бриз»\n- Стол «Норд»\n")?;
    }

    let target = format!("collaboration/document/{}", contract["id"].as_str().unwrap_or_default());
    let title = Some("Договор поставки.txt".to_string());
    let question = comments::comment_as(
        &owner,
        NewComment {
            target: target.clone(),
            permission: "collaboration.use".into(),
            title: title.clone(),
            text: "Анна, добавь реквизиты и срок оплаты, пожалуйста.".into(),
            reply_to: None,
            mentions: vec![anna.clone()],
        },
    )?;
    comments::comment_as(
        &anna,
        NewComment {
            target,
            permission: "collaboration.use".into(),
            title,
            text: "Готово, загрузила вторую версию.".into(),
            reply_to: question["id"].as_str().map(str::to_string),
            mentions: Vec::new(),
        },
    )?;
    Ok(DemoAnswer::done())
}

fn text_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn chat(id: Option<&str>) -> Result<Record<Chat>> {
    store::get::<Chat>("chat", id.unwrap_or_default())
}

fn say(author: &str, chat: &Record<Chat>, text: &str, reply_to: Option<String>, mentions: &[String]) -> Result<String> {
    // Each message sees the chat as the previous one left it.
    let fresh = store::get::<Chat>("chat", &chat.id)?;
    let sent = chats::post_as(
        author,
        &fresh,
        NewMessage { text: Some(text.into()), reply_to, file: None, mentions: mentions.to_vec() },
    )?;
    Ok(sent["id"].as_str().unwrap_or_default().to_string())
}

fn put(who: &str, folder: &Record<drive::Folder>, name: &str, content: &str) -> Result<Value> {
    let info = files::create(name, None, content.as_bytes())?;
    let folder = drive::folder_record(&folder.id)?;
    drive::put(who, &folder, name, &info)
}

/// `today` plus `days`, as `YYYY-MM-DD`.
fn plus_days(today: &str, days: i64) -> String {
    let at = crate::people::seconds_before(&format!("{today}T00:00:00Z"), -days * 86_400).unwrap_or_default();
    at.get(..10).unwrap_or(today).to_string()
}
