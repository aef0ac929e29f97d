//! Amounts in words, as Russian and English documents write them ("Пятьдесят девять тысяч
//! двести рублей 00 копеек"), and amounts and dates in each language's usual form.

/// A decimal amount as text (`"-1234.5"`) split into sign, whole units and hundredths.
fn split(amount: &str) -> Option<(bool, u64, u32)> {
    let t = amount.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let units: u64 = int.parse().ok()?;
    // Hundredths, rounded half up on the third digit.
    let digits: Vec<u32> = frac.bytes().map(|b| u32::from(b - b'0')).collect();
    let mut cents = digits.first().copied().unwrap_or(0) * 10 + digits.get(1).copied().unwrap_or(0);
    let mut units = units;
    if digits.get(2).copied().unwrap_or(0) >= 5 {
        cents += 1;
        if cents == 100 {
            cents = 0;
            units = units.checked_add(1)?;
        }
    }
    Some((negative && (units > 0 || cents > 0), units, cents))
}

/// Which form a Russian noun takes after `n`: 0 for 1 (рубль), 1 for 2-4 (рубля), 2 for the
/// rest (рублей).
fn ru_form(n: u64) -> usize {
    let (last, tens) = (n % 10, n % 100);
    if (11..=14).contains(&tens) {
        2
    } else if last == 1 {
        0
    } else if (2..=4).contains(&last) {
        1
    } else {
        2
    }
}

const RU_UNITS_M: [&str; 20] = [
    "",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
];
const RU_TENS: [&str; 10] =
    ["", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят", "восемьдесят", "девяносто"];
const RU_HUNDREDS: [&str; 10] =
    ["", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот", "восемьсот", "девятьсот"];

/// 1..999 in Russian words, feminine when the noun is (тысяча, копейка).
fn ru_triple(n: u64, feminine: bool, out: &mut Vec<&'static str>) {
    let (h, rest) = ((n / 100) as usize, n % 100);
    if h > 0 {
        out.push(RU_HUNDREDS[h]);
    }
    let (t, u) = if rest < 20 { (0, rest as usize) } else { ((rest / 10) as usize, (rest % 10) as usize) };
    if t > 0 {
        out.push(RU_TENS[t]);
    }
    match (u, feminine) {
        (0, _) => {}
        (1, true) => out.push("одна"),
        (2, true) => out.push("две"),
        (u, _) => out.push(RU_UNITS_M[u]),
    }
}

/// A whole number in Russian words; `feminine` for a feminine noun after it.
pub fn ru_number(n: u64, feminine: bool) -> String {
    if n == 0 {
        return "ноль".into();
    }
    const SCALES: [(u64, [&str; 3], bool); 5] = [
        (1_000_000_000_000_000_000, ["квинтиллион", "квинтиллиона", "квинтиллионов"], false),
        (1_000_000_000_000_000, ["квадриллион", "квадриллиона", "квадриллионов"], false),
        (1_000_000_000_000, ["триллион", "триллиона", "триллионов"], false),
        (1_000_000_000, ["миллиард", "миллиарда", "миллиардов"], false),
        (1_000_000, ["миллион", "миллиона", "миллионов"], false),
    ];
    let mut out = Vec::new();
    let mut rest = n;
    for (scale, forms, fem) in SCALES {
        let k = rest / scale;
        if k > 0 {
            ru_triple(k, fem, &mut out);
            out.push(forms[ru_form(k)]);
        }
        rest %= scale;
    }
    let thousands = rest / 1000;
    if thousands > 0 {
        ru_triple(thousands, true, &mut out);
        out.push(["тысяча", "тысячи", "тысяч"][ru_form(thousands)]);
    }
    ru_triple(rest % 1000, feminine, &mut out);
    out.join(" ")
}

const EN_UNITS: [&str; 20] = [
    "",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

fn en_triple(n: u64) -> String {
    let (h, rest) = (n / 100, n % 100);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{} hundred", EN_UNITS[h as usize]));
    }
    if rest > 0 {
        let tail = if rest < 20 {
            EN_UNITS[rest as usize].to_string()
        } else if rest % 10 == 0 {
            EN_TENS[(rest / 10) as usize].to_string()
        } else {
            format!("{}-{}", EN_TENS[(rest / 10) as usize], EN_UNITS[(rest % 10) as usize])
        };
        parts.push(tail);
    }
    parts.join(" ")
}

/// A whole number in English words.
pub fn en_number(n: u64) -> String {
    if n == 0 {
        return "zero".into();
    }
    const SCALES: [(u64, &str); 7] = [
        (1_000_000_000_000_000_000, "quintillion"),
        (1_000_000_000_000_000, "quadrillion"),
        (1_000_000_000_000, "trillion"),
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
        (1, ""),
    ];
    let mut parts = Vec::new();
    let mut rest = n;
    for (scale, name) in SCALES {
        let k = rest / scale;
        if k > 0 {
            let words = en_triple(k);
            parts.push(if name.is_empty() { words } else { format!("{words} {name}") });
        }
        rest %= scale;
    }
    parts.join(" ")
}

/// Russian names of a currency's units and hundredths, in the three forms (all masculine or
/// indeclinable but the kopeck, whose number is written in digits).
fn ru_currency(code: &str) -> Option<([&'static str; 3], [&'static str; 3])> {
    Some(match code {
        "RUB" | "RUR" => (["рубль", "рубля", "рублей"], ["копейка", "копейки", "копеек"]),
        "USD" => (["доллар США", "доллара США", "долларов США"], ["цент", "цента", "центов"]),
        "EUR" => (["евро", "евро", "евро"], ["евроцент", "евроцента", "евроцентов"]),
        "CNY" => (["юань", "юаня", "юаней"], ["фэнь", "фэня", "фэней"]),
        "KZT" => (["тенге", "тенге", "тенге"], ["тиын", "тиына", "тиынов"]),
        "BYN" => (["белорусский рубль", "белорусских рубля", "белорусских рублей"], ["копейка", "копейки", "копеек"]),
        _ => return None,
    })
}

fn en_currency(code: &str) -> Option<([&'static str; 2], [&'static str; 2])> {
    Some(match code {
        "RUB" | "RUR" => (["rouble", "roubles"], ["kopeck", "kopecks"]),
        "USD" => (["US dollar", "US dollars"], ["cent", "cents"]),
        "EUR" => (["euro", "euros"], ["cent", "cents"]),
        "GBP" => (["pound sterling", "pounds sterling"], ["penny", "pence"]),
        "CNY" => (["yuan", "yuan"], ["fen", "fen"]),
        _ => return None,
    })
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// An amount (`"59200.00"`) in words, with the currency's units in words and the hundredths in
/// digits, as invoices write it: `Пятьдесят девять тысяч двести рублей 00 копеек` (`ru`),
/// `Fifty-nine thousand two hundred roubles and 00 kopecks` (any other language). A currency
/// without names of its own is written by its code. `None` when the text is not an amount.
pub fn amount(amount: &str, currency: &str, language: &str) -> Option<String> {
    let (negative, units, cents) = split(amount)?;
    let code = currency.trim().to_ascii_uppercase();
    let text = if language == "ru" {
        let words = ru_number(units, false);
        let (unit, cent) = match ru_currency(&code) {
            Some((u, c)) => (u[ru_form(units)].to_string(), c[ru_form(u64::from(cents))].to_string()),
            None => (code.clone(), String::new()),
        };
        let minus = if negative { "минус " } else { "" };
        if cent.is_empty() {
            format!("{minus}{words} {unit} {cents:02}")
        } else {
            format!("{minus}{words} {unit} {cents:02} {cent}")
        }
    } else {
        let words = en_number(units);
        let (unit, cent) = match en_currency(&code) {
            Some((u, c)) => (u[usize::from(units != 1)].to_string(), format!(" {}", c[usize::from(cents != 1)])),
            None => (code.clone(), String::new()),
        };
        let minus = if negative { "minus " } else { "" };
        format!("{minus}{words} {unit} and {cents:02}{cent}")
    };
    Some(capitalized(&text))
}

/// An amount with two decimals grouped by thousands as the language writes it: `59 200,00`
/// (`ru`, with no-break spaces) or `59,200.00`. `None` when the text is not an amount.
pub fn money(amount: &str, language: &str) -> Option<String> {
    let (negative, units, cents) = split(amount)?;
    let (group, point) = if language == "ru" { ('\u{a0}', ',') } else { (',', '.') };
    let digits = units.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    Some(format!("{}{grouped}{point}{cents:02}", if negative { "-" } else { "" }))
}

const RU_MONTHS: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Year, month and day of an ISO date or date-time (`2026-12-07`, `2026-12-07T10:00:00Z`).
fn ymd(iso: &str) -> Option<(u32, usize, u32)> {
    let date = iso.trim().get(..10)?;
    let mut it = date.split('-');
    let (y, m, d) = (it.next()?.parse().ok()?, it.next()?.parse::<usize>().ok()?, it.next()?.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// A date as forms write it: `07.12.2026` (`ru`), or `7 December 2026`, which no reader
/// misreads. `None` for a text that is not a date.
pub fn date(iso: &str, language: &str) -> Option<String> {
    let (y, m, d) = ymd(iso)?;
    Some(if language == "ru" { format!("{d:02}.{m:02}.{y}") } else { format!("{d} {} {y}", EN_MONTHS[m - 1]) })
}

/// A date written out, as contracts and orders do: `7 декабря 2026 г.` or `7 December 2026`.
pub fn date_long(iso: &str, language: &str) -> Option<String> {
    let (y, m, d) = ymd(iso)?;
    Some(if language == "ru" {
        format!("{d} {} {y} г.", RU_MONTHS[m - 1])
    } else {
        format!("{d} {} {y}", EN_MONTHS[m - 1])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_amounts_agree_in_gender_and_number() {
        let ru = |a: &str| amount(a, "RUB", "ru").unwrap_or_default();
        assert_eq!(ru("59200.00"), "Пятьдесят девять тысяч двести рублей 00 копеек");
        assert_eq!(ru("1"), "Один рубль 00 копеек");
        assert_eq!(ru("2.01"), "Два рубля 01 копейка");
        assert_eq!(ru("21.22"), "Двадцать один рубль 22 копейки");
        assert_eq!(ru("11.11"), "Одиннадцать рублей 11 копеек");
        assert_eq!(ru("1001"), "Одна тысяча один рубль 00 копеек");
        assert_eq!(ru("2000"), "Две тысячи рублей 00 копеек");
        assert_eq!(ru("5000"), "Пять тысяч рублей 00 копеек");
        assert_eq!(
            ru("12345678.9"),
            "Двенадцать миллионов триста сорок пять тысяч шестьсот семьдесят восемь рублей 90 копеек"
        );
        assert_eq!(ru("1000000"), "Один миллион рублей 00 копеек");
        assert_eq!(ru("2000000000"), "Два миллиарда рублей 00 копеек");
        assert_eq!(ru("0.5"), "Ноль рублей 50 копеек");
        assert_eq!(ru("0.999"), "Один рубль 00 копеек", "rounded to kopecks");
        assert_eq!(ru("-14.00"), "Минус четырнадцать рублей 00 копеек");
        assert_eq!(ru("112"), "Сто двенадцать рублей 00 копеек");
        assert_eq!(amount("3", "EUR", "ru").as_deref(), Some("Три евро 00 евроцентов"));
        assert_eq!(amount("3", "XYZ", "ru").as_deref(), Some("Три XYZ 00"));
        assert_eq!(amount("abc", "RUB", "ru"), None);
        assert_eq!(amount("1.2.3", "RUB", "ru"), None);
    }

    #[test]
    fn english_amounts() {
        assert_eq!(
            amount("59200.00", "USD", "en").as_deref(),
            Some("Fifty-nine thousand two hundred US dollars and 00 cents")
        );
        assert_eq!(amount("1.01", "EUR", "en").as_deref(), Some("One euro and 01 cent"));
        assert_eq!(amount("1000021", "RUB", "en").as_deref(), Some("One million twenty-one roubles and 00 kopecks"));
        assert_eq!(en_number(115), "one hundred fifteen");
    }

    #[test]
    fn money_and_dates_per_language() {
        assert_eq!(money("59200", "ru").as_deref(), Some("59\u{a0}200,00"));
        assert_eq!(money("1234567.891", "en").as_deref(), Some("1,234,567.89"));
        assert_eq!(money("-5.5", "en").as_deref(), Some("-5.50"));
        assert_eq!(date("2026-12-07", "ru").as_deref(), Some("07.12.2026"));
        assert_eq!(date("2026-12-07T10:00:00Z", "en").as_deref(), Some("7 December 2026"));
        assert_eq!(date_long("2026-03-01", "ru").as_deref(), Some("1 марта 2026 г."));
        assert_eq!(date("2026-13-01", "ru"), None);
    }
}
