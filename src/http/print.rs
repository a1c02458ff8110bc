//! `GET /print/layout` and `POST /print` (staff): a map printed at a scale, as a PDF
//! ([`crate::print`]). The staff map asks for the layout, draws the map picture to it and posts
//! the picture (`map`, PNG or JPEG) with the sheet (`sheet`, JSON) as `multipart/form-data`.

use axum::Json;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::auth::require;
use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::auth::{Caller, Role};
use crate::print::{Frame, Imprint, Layout, Sheet, pdf};

/// The most a print request may carry: an A3 map at 300 dpi as PNG, with room to spare.
pub const PRINT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// `GET /print/layout`: where the map goes on the sheet, and the size and zoom to draw it at.
#[utoipa::path(get, path = "/print/layout", tag = "print", params(Frame), security(("api_key" = [])),
    responses((status = 200, body = Layout), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn layout(caller: Caller, Query(frame): Query<Frame>) -> Result<Json<Layout>, ApiError> {
    require(&caller, Role::Staff, "printing")?;
    Ok(Json(Layout::new(&frame)?))
}

/// `POST /print`: the sheet as a PDF.
#[utoipa::path(post, path = "/print", tag = "print", security(("api_key" = [])),
    request_body(content_type = "multipart/form-data", description = "`sheet`: the Sheet as JSON; `map`: the map picture (PNG or JPEG) drawn to the layout"),
    responses((status = 200, content_type = "application/pdf", description = "the sheet"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn render(State(app): State<AppState>, caller: Caller, mut form: Multipart) -> Result<Response, ApiError> {
    require(&caller, Role::Staff, "printing")?;
    let bad = |m: String| ApiError::BadRequest(m);
    let (mut sheet, mut picture) = (None, None);
    while let Some(field) = form.next_field().await.map_err(|e| bad(format!("the form cannot be read: {e}")))? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| bad(format!("the form cannot be read: {e}")))?;
        match name.as_str() {
            "sheet" => {
                sheet = Some(serde_json::from_slice::<Sheet>(&bytes).map_err(|e| bad(format!("sheet: {e}")))?);
            }
            "map" => picture = Some(bytes.to_vec()),
            other => return Err(bad(format!("unknown form field {other:?}: send `sheet` and `map`"))),
        }
    }
    let sheet = sheet.ok_or_else(|| bad("the form has no `sheet`".into()))?;
    let picture = picture.ok_or_else(|| bad("the form has no `map` picture".into()))?;
    let layout = Layout::new(&sheet.frame)?;
    let city = &app.config.city;
    let web = &app.config.web;
    let mut attribution = vec![format!("© {} / {}", city.name_ja, city.name_en)];
    if !web.basemap_url.is_empty() {
        attribution.push(strip_tags(&web.basemap_attribution));
    }
    let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("JST");
    let now = chrono::Utc::now().with_timezone(&jst);
    let imprint = Imprint {
        attribution,
        dataset_notice: app.dataset_notice.clone(),
        printed_by: caller.actor(),
        printed_at: now.format("%Y-%m-%d %H:%M").to_string(),
    };
    let (path, index) = (web.print_font.clone(), web.print_font_index);
    let bytes = tokio::task::spawn_blocking(move || {
        let font = pdf::load_font(&path, index)?;
        pdf::render(&sheet, &layout, &imprint, picture, &font)
    })
    .await??;
    let filename = format!("attachment; filename=\"machizu-{}.pdf\"", now.format("%Y%m%d-%H%M"));
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    r.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&filename).expect("ASCII"));
    Ok(r)
}

/// The text of an attribution written as HTML (`<a …>出典：国土地理院</a>`).
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn attribution_html_becomes_text() {
        assert_eq!(
            super::strip_tags("<a href=\"https://x\" target=\"_blank\">出典：国土地理院</a>"),
            "出典：国土地理院"
        );
    }
}
