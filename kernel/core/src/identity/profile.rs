//! A company's profile: the details its documents carry (legal name, INN, KPP, address, bank
//! account, signatories) and the settings every plugin shares (time zone, currency).

use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::IdentityError;
use crate::storage::DbConn;
use crate::storage::schema::{companies, users};
use crate::validation::{Checker, is_display_name, is_email};

/// The company's time zone until someone sets one.
pub const DEFAULT_TIME_ZONE: &str = "UTC";
/// The company's currency until someone sets one.
pub const DEFAULT_CURRENCY: &str = "RUB";

/// What a company tells about itself. Every text may be empty except the time zone and the
/// currency, which always hold a valid value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompanyProfile {
    /// Full legal name for documents (`ООО «Ромашка»`).
    pub legal_name: String,
    /// Taxpayer number (ИНН): 10 digits for an organisation, 12 for a sole trader; a foreign
    /// tax number is letters and digits.
    pub tax_id: String,
    /// Tax registration reason code (КПП): 9 characters.
    pub kpp: String,
    /// State registration number (ОГРН / ОГРНИП): 13 or 15 digits.
    pub registration_number: String,
    /// Legal address.
    pub address: String,
    /// Phone for documents.
    pub phone: String,
    /// E-mail for documents.
    pub email: String,
    /// Bank name.
    pub bank_name: String,
    /// Bank identification code (БИК): 9 digits.
    pub bank_bic: String,
    /// Settlement account (расчётный счёт): 20 digits.
    pub bank_account: String,
    /// The bank's correspondent account (корр. счёт): 20 digits.
    pub bank_corr_account: String,
    /// Director who signs documents.
    pub director: String,
    /// Chief accountant who signs documents.
    pub accountant: String,
    /// IANA time zone (`Europe/Moscow`) that dates and times are shown and typed in.
    pub time_zone: String,
    /// ISO 4217 code of the currency amounts are kept in (`RUB`).
    pub currency: String,
}

impl Default for CompanyProfile {
    fn default() -> Self {
        CompanyProfile {
            legal_name: String::new(),
            tax_id: String::new(),
            kpp: String::new(),
            registration_number: String::new(),
            address: String::new(),
            phone: String::new(),
            email: String::new(),
            bank_name: String::new(),
            bank_bic: String::new(),
            bank_account: String::new(),
            bank_corr_account: String::new(),
            director: String::new(),
            accountant: String::new(),
            time_zone: DEFAULT_TIME_ZONE.into(),
            currency: DEFAULT_CURRENCY.into(),
        }
    }
}

fn digits(text: &str, lengths: &[usize]) -> bool {
    lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// True for a Russian taxpayer number whose check digits agree (10 or 12 digits).
pub fn is_inn(text: &str) -> bool {
    fn check(d: &[u32], weights: &[u32]) -> u32 {
        weights.iter().zip(d).map(|(w, x)| w * x).sum::<u32>() % 11 % 10
    }
    if !digits(text, &[10, 12]) {
        return false;
    }
    let d: Vec<u32> = text.bytes().map(|b| u32::from(b - b'0')).collect();
    if d.len() == 10 {
        check(&d, &[2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[9]
    } else {
        check(&d, &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[10] && check(&d, &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[11]
    }
}

/// Every time zone name the kernel accepts, as the time zone database spells them.
pub fn time_zone_names() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect()
}

/// True for a name the time zone database knows (`Europe/Moscow`, `UTC`).
pub fn is_time_zone(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

fn short(c: &mut Checker, field: &str, value: &str, max: usize) {
    c.check(value.chars().count() <= max, field, format!("must be at most {max} characters"));
    c.check(!value.chars().any(char::is_control), field, "must not contain control characters");
}

impl CompanyProfile {
    /// Trims every free text and checks each field (the time zone and currency exactly as
    /// given); all problems are reported at once.
    pub fn validated(mut self) -> Result<CompanyProfile, IdentityError> {
        for text in self.texts_mut() {
            *text = text.trim().to_string();
        }
        let p = &self;
        let mut c = Checker::new();
        short(&mut c, "legal_name", &p.legal_name, 300);
        short(&mut c, "address", &p.address, 500);
        short(&mut c, "phone", &p.phone, 50);
        short(&mut c, "bank_name", &p.bank_name, 300);
        short(&mut c, "director", &p.director, 200);
        short(&mut c, "accountant", &p.accountant, 200);
        let foreign_tax_id = p.tax_id.len() <= 20
            && p.tax_id.bytes().any(|b| b.is_ascii_uppercase())
            && p.tax_id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        c.check(
            p.tax_id.is_empty() || is_inn(&p.tax_id) || foreign_tax_id,
            "tax_id",
            "must be an INN of 10 or 12 digits with correct check digits, or a foreign tax number in capital letters and digits",
        );
        let kpp_ok = p.kpp.len() == 9
            && p.kpp
                .bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || ((4..6).contains(&i) && b.is_ascii_uppercase()));
        c.check(
            p.kpp.is_empty() || kpp_ok,
            "kpp",
            "must be 9 characters: digits, with capital letters allowed in the 5th and 6th",
        );
        c.check(
            p.registration_number.is_empty() || digits(&p.registration_number, &[13, 15]),
            "registration_number",
            "must be 13 digits (OGRN) or 15 digits (OGRNIP)",
        );
        c.check(p.email.is_empty() || is_email(&p.email), "email", "is not a valid e-mail address");
        c.check(p.bank_bic.is_empty() || digits(&p.bank_bic, &[9]), "bank_bic", "must be 9 digits");
        c.check(p.bank_account.is_empty() || digits(&p.bank_account, &[20]), "bank_account", "must be 20 digits");
        c.check(
            p.bank_corr_account.is_empty() || digits(&p.bank_corr_account, &[20]),
            "bank_corr_account",
            "must be 20 digits",
        );
        c.check(is_time_zone(&p.time_zone), "time_zone", "must be a time zone name such as Europe/Moscow");
        c.check(
            p.currency.len() == 3 && p.currency.bytes().all(|b| b.is_ascii_uppercase()),
            "currency",
            "must be a three-letter currency code such as RUB",
        );
        c.finish()?;
        Ok(self)
    }

    fn texts_mut(&mut self) -> [&mut String; 13] {
        [
            &mut self.legal_name,
            &mut self.tax_id,
            &mut self.kpp,
            &mut self.registration_number,
            &mut self.address,
            &mut self.phone,
            &mut self.email,
            &mut self.bank_name,
            &mut self.bank_bic,
            &mut self.bank_account,
            &mut self.bank_corr_account,
            &mut self.director,
            &mut self.accountant,
        ]
    }
}

/// The company's display name and profile; a stored profile that no longer validates
/// (written by hand) reads as the defaults rather than failing every page.
pub fn get(conn: &mut DbConn, company_id: &str) -> Result<(String, CompanyProfile), IdentityError> {
    let row: Option<(String, String)> =
        companies::table.find(company_id).select((companies::name, companies::profile)).first(conn).optional()?;
    let (name, text) = row.ok_or(IdentityError::NotFound)?;
    let profile =
        serde_json::from_str::<CompanyProfile>(&text).ok().and_then(|p| p.validated().ok()).unwrap_or_default();
    Ok((name, profile))
}

/// The company's name and profile as one JSON object, as plugins see it in their
/// configuration under `company`.
/// `utc_offset_minutes` is the time zone's offset now, for plugins that carry no time zone
/// database.
pub fn as_json(name: &str, profile: &CompanyProfile) -> serde_json::Value {
    let mut value = serde_json::to_value(profile).unwrap_or_default();
    value["name"] = serde_json::Value::from(name);
    value["utc_offset_minutes"] = serde_json::Value::from(offset_minutes(&profile.time_zone, chrono::Utc::now()));
    value
}

/// The offset from UTC of `zone` at `at`, in minutes (0 for an unknown zone).
pub fn offset_minutes(zone: &str, at: chrono::DateTime<chrono::Utc>) -> i64 {
    use chrono::Offset;
    zone.parse::<Tz>().map(|tz| i64::from(at.with_timezone(&tz).offset().fix().local_minus_utc() / 60)).unwrap_or(0)
}

/// Validates and stores the profile and the company's display name.
pub fn set(
    conn: &mut DbConn,
    company_id: &str,
    name: &str,
    profile: CompanyProfile,
) -> Result<CompanyProfile, IdentityError> {
    let checked = profile.validated();
    if !is_display_name(name) {
        let mut problems = match checked {
            Err(IdentityError::Invalid(i)) => i.0,
            _ => Vec::new(),
        };
        problems.insert(0, crate::validation::FieldError::new("name", "must be 1 to 200 characters"));
        return Err(crate::validation::Invalid(problems).into());
    }
    let profile = checked?;
    let text = serde_json::to_string(&profile).map_err(|e| IdentityError::Internal(e.to_string()))?;
    let changed = diesel::update(companies::table.find(company_id))
        .set((companies::name.eq(name.trim()), companies::profile.eq(text)))
        .execute(conn)?;
    if changed == 0 {
        return Err(IdentityError::NotFound);
    }
    Ok(profile)
}

/// Sets a person's own time zone; `None` follows the company's.
pub fn set_user_time_zone(conn: &mut DbConn, user_id: &str, zone: Option<&str>) -> Result<(), IdentityError> {
    if let Some(z) = zone
        && !is_time_zone(z)
    {
        return Err(
            crate::validation::Invalid::one("time_zone", "must be a time zone name such as Europe/Moscow").into()
        );
    }
    diesel::update(users::table.find(user_id)).set(users::time_zone.eq(zone)).execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_zone_and_its_summer_time() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&chrono::Utc);
        assert_eq!(offset_minutes("Europe/Moscow", at("2026-07-01T00:00:00Z")), 180);
        assert_eq!(offset_minutes("Europe/Berlin", at("2026-01-15T00:00:00Z")), 60);
        assert_eq!(offset_minutes("Europe/Berlin", at("2026-07-15T00:00:00Z")), 120);
        assert_eq!(offset_minutes("Asia/Kolkata", at("2026-07-15T00:00:00Z")), 330);
    }

    #[test]
    fn inn_check_digits_are_checked() {
        assert!(is_inn("7707083893")); // Sberbank
        assert!(!is_inn("7707083894"));
        assert!(is_inn("500100732259"));
        assert!(!is_inn("500100732250"));
        assert!(!is_inn("77070838"));
    }

    #[test]
    fn a_profile_reports_every_problem_and_trims() {
        let p = CompanyProfile {
            legal_name: "  ООО «Ромашка» ".into(),
            tax_id: "7707083893".into(),
            kpp: "7736AB001".into(),
            bank_bic: "04452522".into(),
            time_zone: "Mars/Olympus".into(),
            currency: "rub".into(),
            ..CompanyProfile::default()
        };
        let Err(IdentityError::Invalid(i)) = p.clone().validated() else { panic!("accepted") };
        let fields: Vec<&str> = i.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["bank_bic", "time_zone", "currency"]);
        let ok = CompanyProfile {
            bank_bic: "044525225".into(),
            time_zone: "Europe/Moscow".into(),
            currency: "RUB".into(),
            ..p
        }
        .validated()
        .expect("valid");
        assert_eq!(ok.legal_name, "ООО «Ромашка»");
    }

    #[test]
    fn a_foreign_tax_number_is_accepted_but_not_a_wrong_inn() {
        let with = |tax_id: &str| CompanyProfile { tax_id: tax_id.into(), ..CompanyProfile::default() }.validated();
        assert!(with("DE123456789").is_ok());
        assert!(with("1234567890").is_err());
        assert!(with("de 123").is_err());
    }
}
