//! The kernel's own texts in English and Russian. Plugins bring their labels in manifests.

/// `(key, English, Russian)`.
const TEXTS: &[(&str, &str, &str)] = &[
    ("app", "ERP", "ERP"),
    ("login", "Log in", "Войти"),
    ("logout", "Log out", "Выйти"),
    ("email", "E-mail", "Эл. почта"),
    ("password", "Password", "Пароль"),
    ("login_failed", "Wrong e-mail or password", "Неверная эл. почта или пароль"),
    ("company", "Company", "Компания"),
    ("switch", "Switch", "Перейти"),
    ("home", "Home", "Главная"),
    ("reports", "Reports", "Отчёты"),
    ("commands", "Actions", "Действия"),
    ("admin", "Administration", "Администрирование"),
    ("plugins", "Plugins", "Модули"),
    ("members", "Members", "Сотрудники"),
    ("roles", "Roles", "Роли"),
    ("audit", "Audit log", "Журнал аудита"),
    ("events", "Event log", "Журнал событий"),
    ("list", "List", "Список"),
    ("kanban", "Board", "Канбан"),
    ("calendar", "Calendar", "Календарь"),
    ("new", "New", "Создать"),
    ("save", "Save", "Сохранить"),
    ("delete", "Delete", "Удалить"),
    ("run", "Run", "Выполнить"),
    ("search", "Search", "Поиск"),
    ("filter", "Filter", "Фильтр"),
    ("apply", "Apply", "Применить"),
    ("reset", "Reset", "Сбросить"),
    ("columns", "Columns", "Колонки"),
    ("next_page", "Next page", "Следующая страница"),
    ("first_page", "First page", "Первая страница"),
    ("no_records", "Nothing here yet", "Пока ничего нет"),
    ("move", "Move", "Переместить"),
    ("move_to", "Move to", "Переместить в"),
    ("timeline", "History", "История"),
    ("related", "Related", "Связанные"),
    ("result", "Result", "Результат"),
    ("total", "Total", "Итого"),
    ("nothing_now", "Nothing here now", "Сейчас ничего нет"),
    ("sections", "Sections", "Разделы"),
    ("settings", "Settings", "Настройки"),
    ("lines", "Lines", "Строк"),
    ("delivery_pending", "waiting", "ожидает"),
    ("delivery_done", "delivered", "доставлено"),
    ("delivery_dead", "failed, not retried", "не доставлено"),
    ("add_linked", "Add linked", "Добавить связанное"),
    ("add_line", "Add a line", "Добавить строку"),
    ("remove_line", "Remove the line", "Удалить строку"),
    ("company_details", "Company details", "Реквизиты компании"),
    ("bank_details", "Bank account", "Банковские реквизиты"),
    ("signatories", "Signatures on documents", "Подписи в документах"),
    ("region", "Time zone and currency", "Часовой пояс и валюта"),
    ("plugin_settings", "Module settings", "Настройки модулей"),
    ("my_settings", "My settings", "Мои настройки"),
    ("my_time_zone", "My time zone", "Мой часовой пояс"),
    ("follow_company_zone", "The company's time zone", "Часовой пояс компании"),
    ("profile_name", "Short name", "Краткое название"),
    ("profile_legal_name", "Full legal name", "Полное наименование"),
    ("profile_tax_id", "INN (tax number)", "ИНН"),
    ("profile_kpp", "KPP", "КПП"),
    ("profile_registration_number", "OGRN (registration number)", "ОГРН / ОГРНИП"),
    ("profile_address", "Legal address", "Юридический адрес"),
    ("profile_phone", "Phone", "Телефон"),
    ("profile_email", "E-mail", "Эл. почта"),
    ("profile_bank_name", "Bank", "Банк"),
    ("profile_bank_bic", "BIC", "БИК"),
    ("profile_bank_account", "Settlement account", "Расчётный счёт"),
    ("profile_bank_corr_account", "Correspondent account", "Корреспондентский счёт"),
    ("profile_director", "Director", "Руководитель"),
    ("profile_accountant", "Chief accountant", "Главный бухгалтер"),
    ("profile_time_zone", "Time zone", "Часовой пояс"),
    ("profile_currency", "Currency", "Валюта"),
    ("search_everywhere", "Search: name, phone, e-mail, INN, number", "Поиск: имя, телефон, почта, ИНН, номер"),
    ("search_hint", "Type at least two characters", "Введите хотя бы два символа"),
    ("items_hint", "Separate them with commas", "Через запятую"),
    ("items_hint_numbers", "Separate them with semicolons", "Через точку с запятой"),
    ("search_nothing", "Nothing found", "Ничего не найдено"),
    ("role_owner", "Owner", "Владелец"),
    ("role_admin", "Administrator", "Администратор"),
    ("role_member", "Employee", "Сотрудник"),
    ("role_about_owner", "Full control of the company", "Полное управление компанией"),
    (
        "role_about_admin",
        "Administers the company; cannot manage owners",
        "Администрирует компанию; не управляет владельцами",
    ),
    ("role_about_member", "Works in the company", "Работает в компании"),
    ("someone", "(no access to the name)", "(имя недоступно)"),
    ("yes", "Yes", "Да"),
    ("no", "No", "Нет"),
    ("any", "Any", "Любое"),
    ("from", "From", "С"),
    ("to", "To", "По"),
    ("choose", "Choose…", "Выберите…"),
    ("type_to_search", "Type to search", "Начните вводить для поиска"),
    ("fix_errors", "Please correct the marked fields", "Исправьте отмеченные поля"),
    (
        "conflict",
        "Someone else changed this record while you were editing. Your changes were not saved; the form now shows the current version with your input kept — check it and save again.",
        "Пока вы редактировали, запись изменил кто-то другой. Ваши изменения не сохранены; форма показывает текущую версию с вашим вводом — проверьте и сохраните ещё раз.",
    ),
    ("saved", "Saved", "Сохранено"),
    ("created", "Created", "Создано"),
    ("deleted", "Deleted", "Удалено"),
    ("done", "Done", "Готово"),
    ("forbidden", "You do not have access to this", "У вас нет доступа к этому разделу"),
    ("not_found", "Not found", "Не найдено"),
    (
        "csrf",
        "The form expired or came from another site. Reload the page and try again.",
        "Форма устарела или отправлена с другого сайта. Обновите страницу и попробуйте снова.",
    ),
    ("error", "Error", "Ошибка"),
    ("installed", "Installed plugins", "Установленные модули"),
    ("install", "Install a plugin", "Установить модуль"),
    ("package", "Package (.wasm)", "Пакет (.wasm)"),
    ("upload", "Upload", "Загрузить"),
    ("version", "Version", "Версия"),
    ("publisher", "Publisher", "Издатель"),
    ("enabled", "Enabled", "Включён"),
    ("records_stored", "Records", "Записей"),
    ("health", "State", "Состояние"),
    ("healthy", "Working", "Работает"),
    (
        "quarantined",
        "Quarantined: it kept hitting its limits in this company and is stopped here",
        "На карантине: модуль раз за разом превышал лимиты в этой компании и остановлен в ней",
    ),
    ("since", "since", "с"),
    ("release", "Release", "Снять с карантина"),
    ("last_limit", "Last limit hit", "Последнее превышение"),
    ("limit_time", "ran out of time", "не уложился во время"),
    ("limit_memory", "needed more memory than allowed", "запросил больше памяти, чем разрешено"),
    (
        "limit_write_hold",
        "computed too long while holding the write lock",
        "слишком долго вычислял, удерживая блокировку записи",
    ),
    ("enable", "Enable", "Включить"),
    ("disable", "Disable", "Отключить"),
    ("capabilities", "Access it asks for", "Запрашиваемый доступ"),
    ("grant", "Grant", "Разрешить"),
    ("permissions", "Permissions", "Права"),
    ("collections", "Collections", "Разделы данных"),
    (
        "no_capabilities",
        "It asks for no access to other plugins' data",
        "Не запрашивает доступ к данным других модулей",
    ),
    ("role", "Role", "Роль"),
    ("name", "Name", "Имя"),
    ("add", "Add", "Добавить"),
    ("change", "Change", "Изменить"),
    ("remove", "Remove", "Убрать"),
    ("description", "Description", "Описание"),
    ("when", "When", "Когда"),
    ("who", "Who", "Кто"),
    ("action", "Action", "Действие"),
    ("object", "Object", "Объект"),
    ("outcome", "Outcome", "Итог"),
    ("event", "Event", "Событие"),
    ("source", "Source", "Источник"),
    ("deliveries", "Deliveries", "Доставки"),
    ("replay", "Replay", "Повторить"),
    ("dead_only", "Dead letters only", "Только недоставленные"),
    ("language", "Language", "Язык"),
    ("prev_month", "Previous month", "Предыдущий месяц"),
    ("next_month", "Next month", "Следующий месяц"),
    ("version_conflict", "Version", "Версия"),
    ("sensitive", "sensitive", "персональные данные"),
    ("read", "read", "чтение"),
    ("write", "write", "запись"),
    ("skip", "Skip to content", "Перейти к содержимому"),
    ("menu", "Menu", "Меню"),
    (
        "no_plugins",
        "Nothing enabled in this company is open to your role yet; an administrator can enable plugins or grant access.",
        "Вашей роли пока не открыт ни один модуль этой компании; администратор может включить модули или выдать доступ.",
    ),
    ("confirm_delete", "Delete this record?", "Удалить запись?"),
    ("confirm_action", "Are you sure? This cannot be simply undone.", "Вы уверены? Это не отменить простым действием."),
    ("new_role", "New role", "Новая роль"),
    ("new_user", "New user", "Новый пользователь"),
    ("permissions_hint", "One permission per line, such as", "По одному праву в строке, например"),
    (
        "upload_hint",
        "Only platform operators may install. After upload you see what the plugin asks for before you enable it.",
        "Устанавливать могут только операторы платформы. После загрузки вы увидите, что запрашивает модуль, до его включения.",
    ),
    ("config", "Settings", "Настройки"),
    ("chart", "Chart", "Диаграмма"),
    ("json_input", "Input as JSON (advanced)", "Входные данные в JSON (для опытных)"),
    (
        "json_object",
        "The input must be a JSON object, such as {\"key\": \"value\"}",
        "Входные данные должны быть объектом JSON, например {\"key\": \"value\"}",
    ),
    ("page_time", "Server time", "Время сервера"),
];

/// The text for `key` in `lang`; the key itself when there is none (a missing text shows, it
/// does not break the page).
pub(super) fn text(lang: &str, key: &str) -> String {
    TEXTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, ru)| if lang == "ru" { *ru } else { *en })
        .unwrap_or(key)
        .to_string()
}

/// Every text in `lang`, keyed.
pub(super) fn all(lang: &str) -> serde_json::Value {
    TEXTS
        .iter()
        .map(|(k, en, ru)| (k.to_string(), serde_json::Value::from(if lang == "ru" { *ru } else { *en })))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages_and_keys_are_unique() {
        let mut keys = std::collections::BTreeSet::new();
        for (k, en, ru) in TEXTS {
            assert!(!en.is_empty() && !ru.is_empty(), "{k}");
            assert!(keys.insert(*k), "{k} twice");
        }
        assert_eq!(text("ru", "save"), "Сохранить");
        assert_eq!(text("en", "save"), "Save");
    }
}
