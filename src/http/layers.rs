//! `GET /layers`: the catalog as the caller may see it (staff see staff-only layers and attributes) — layers, titles in Japanese and
//! English, geometry, zoom range, public attributes, feature counts and bounds.
//!
//! `/admin/layers…`: layers made from files by admins ([`crate::layers`]): upload a file as a
//! new layer, replace its data, change titles and who sees what, remove it.

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ErrorBody;
use super::{ApiError, AppState, auth};
use crate::auth::{Caller, Role};
use crate::catalog::{Audience, LayerDef, Title, Visibility};
use crate::import::ImportReport;
use crate::import::ogr::OgrOptions;
use crate::layers::{LayerChange, LayerError, Made, NewLayer, Upload};

/// One layer's description for `audience` (shared with TileJSON's `vector_layers`).
pub fn describe(app: &AppState, layer: &LayerDef, audience: Audience) -> Value {
    let data = app.engine.layer(layer.id.as_str());
    let attributes: Vec<Value> = layer
        .visible_attributes(audience)
        .map(|(_, a)| {
            let mut d = json!({"name": a.name, "type": a.kind, "title": a.title});
            if a.required {
                d["required"] = json!(true);
            }
            if !a.values.is_empty() {
                d["values"] = json!(a.values);
            }
            d
        })
        .collect();
    let mut d = json!({
        "id": layer.id,
        "title": layer.title,
        "geometry": layer.geometry.family(),
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "live": layer.live,
        "feature_count": data.as_ref().map_or(0, |d| d.len()),
        "bounds": data.as_ref().and_then(|d| d.bounds),
        "attributes": attributes,
    });
    if let Some(file) = &layer.file {
        d["colour"] = json!(file.colour);
        d["attribution"] = json!(file.attribution);
    }
    if let Some(label) = layer.label_for(audience) {
        d["label"] = json!(label);
        if layer.geometry.family() == "polygon" {
            d["label"]["source_layer"] = json!(layer.label_layer_name());
        }
    }
    d
}

#[utoipa::path(get, path = "/layers", tag = "layers",
    responses((status = 200, description = "the layers the caller may see, with titles, attributes, counts and bounds")))]
pub async fn list(State(app): State<AppState>, caller: Caller) -> Json<Value> {
    // The configured layers (the untiled ones too), then those made from files.
    let served = app.engine.catalog();
    let layers: Vec<Value> = (app.config.catalog.layers().iter())
        .chain(served.layers().iter().filter(|l| l.file.is_some()))
        .filter(|l| l.visible_to(caller.audience(l)))
        .map(|l| describe(&app, l, caller.audience(l)))
        .collect();
    Json(json!({
        "city": app.config.city,
        "dataset_notice": app.dataset_notice,
        "layers": layers,
    }))
}

/// Upload limit for a layer file (a zipped Shapefile of a whole city's parcels fits).
pub const UPLOAD_LIMIT: usize = 256 * 1024 * 1024;

/// The file and options of an upload form.
#[derive(Default)]
struct Form {
    file: Option<Upload>,
    fields: Vec<(String, String)>,
}

impl Form {
    async fn read(mut form: Multipart) -> Result<Self, ApiError> {
        let bad =
            |e: axum::extract::multipart::MultipartError| ApiError::BadRequest(format!("the form cannot be read: {e}"));
        let mut out = Form::default();
        while let Some(field) = form.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                let file_name = field.file_name().unwrap_or("upload").to_owned();
                let bytes = field.bytes().await.map_err(bad)?;
                let upload = Upload::write(&file_name, &bytes)
                    .map_err(|e| ApiError::Internal(format!("keeping the upload: {e}")))?;
                out.file = Some(upload);
            } else {
                out.fields.push((name, field.text().await.map_err(bad)?));
            }
        }
        Ok(out)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    fn file(&self) -> Result<&Upload, ApiError> {
        self.file.as_ref().ok_or_else(|| ApiError::BadRequest("the form has no `file`".into()))
    }

    /// An error about the upload, naming the file as sent.
    fn error(&self, e: LayerError) -> ApiError {
        match (ApiError::from(e), &self.file) {
            (ApiError::BadRequest(m), Some(upload)) => ApiError::BadRequest(upload.tidy(&m)),
            (other, _) => other,
        }
    }

    /// How to read the file: `srs`, `encoding`, `source_layer`.
    fn ogr(&self) -> Result<OgrOptions, ApiError> {
        let srs = self.get("srs").map(crate::crs::Epsg::parse).transpose();
        let encoding = self.get("encoding").map(|e| {
            crate::import::text::label(e).ok_or_else(|| format!("encoding {e:?}: use cp932 (Shift_JIS) or utf-8"))
        });
        Ok(OgrOptions {
            srs: srs.map_err(|e| ApiError::BadRequest(format!("srs: {e}")))?,
            encoding: encoding.transpose().map_err(ApiError::BadRequest)?,
            source_layer: self.get("source_layer").map(str::to_owned),
            filter: None,
        })
    }
}

/// What an import read and wrote, for the page.
fn report_json(r: &ImportReport) -> Value {
    json!({
        "read": r.read, "imported": r.imported, "replaced": r.replaced, "repaired": r.repaired,
        "split": r.split, "skipped": r.skipped, "notes": r.notes, "seconds": r.elapsed.as_secs_f64(),
    })
}

/// Brings this server's engine in step with the store after a change to layer `id`.
async fn follow(app: &AppState, id: &str) -> Result<(), ApiError> {
    crate::follow::sync_definition(app.store.as_ref(), &app.engine, id)
        .await
        .map_err(|e| ApiError::Internal(format!("serving layer {id}: {e}")))
}

fn made_json(made: &Made) -> Value {
    json!({ "layer": made.layer, "report": report_json(&made.report) })
}

/// `GET /admin/layers`: the layers made from files, with every attribute (admin).
#[utoipa::path(get, path = "/admin/layers", tag = "layers", security(("api_key" = [])),
    responses((status = 200, description = "the layers made from files"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn list_files(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    auth::require(&caller, Role::Admin, "layers made from files")?;
    Ok(Json(json!({ "layers": app.store.layer_defs().await? })))
}

/// `POST /admin/layers`: makes a layer from a file (admin), all or nothing.
#[utoipa::path(post, path = "/admin/layers", tag = "layers", security(("api_key" = [])),
    request_body(content_type = "multipart/form-data", description = "`file`: zipped Shapefile, GeoPackage, GeoJSON, CSV with 緯度/経度, FlatGeobuf; `id`, `title_ja`, `title_en`; `visibility` (public or staff, the default); `attribution` (出典); `public_field` (repeated): fields the public may see; `srs`, `encoding`, `source_layer` as for `machizu import`"),
    responses((status = 201, description = "the layer and the import report"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn add_file(State(app): State<AppState>, caller: Caller, form: Multipart) -> Result<Response, ApiError> {
    auth::require(&caller, Role::Admin, "layers made from files")?;
    let form = Form::read(form).await?;
    let id = form.get("id").ok_or_else(|| ApiError::BadRequest("the form has no layer `id`".into()))?;
    let ja = form.get("title_ja").unwrap_or_default();
    let new = NewLayer {
        id: id.to_owned(),
        title: Title::new(ja, form.get("title_en").unwrap_or(ja)),
        visibility: visibility(form.get("visibility"))?,
        public_fields: form.fields.iter().filter(|(n, _)| n == "public_field").map(|(_, v)| v.clone()).collect(),
        attribution: form.get("attribution").map(str::to_owned),
    };
    // The configured layers, the untiled ones too, and those made from files.
    let mut catalog = app.config.catalog.clone();
    for def in app.engine.catalog().layers().iter().filter(|l| l.file.is_some()) {
        catalog.push(def.clone())?;
    }
    let made = crate::layers::add(app.store.as_ref(), &catalog, &form.file()?.path, new, form.ogr()?)
        .await
        .map_err(|e| form.error(e))?;
    follow(&app, id).await?;
    Ok((StatusCode::CREATED, Json(made_json(&made))).into_response())
}

fn visibility(v: Option<&str>) -> Result<Visibility, ApiError> {
    match v {
        None | Some("staff") => Ok(Visibility::Staff),
        Some("public") => Ok(Visibility::Public),
        Some(other) => Err(ApiError::BadRequest(format!("visibility {other:?}: use public or staff"))),
    }
}

/// `PUT /admin/layers/{id}/data`: replaces every feature of a layer made from a file with a
/// file's, in one transaction (admin).
#[utoipa::path(put, path = "/admin/layers/{id}/data", tag = "layers", security(("api_key" = [])),
    request_body(content_type = "multipart/form-data", description = "`file`, and `srs`, `encoding`, `source_layer` as for `machizu import`"),
    responses((status = 200, description = "the import report"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn replace_file(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    form: Multipart,
) -> Result<Json<Value>, ApiError> {
    auth::require(&caller, Role::Admin, "layers made from files")?;
    let form = Form::read(form).await?;
    let made = crate::layers::replace(app.store.as_ref(), &id, &form.file()?.path, form.ogr()?)
        .await
        .map_err(|e| form.error(e))?;
    follow(&app, &id).await?;
    Ok(Json(made_json(&made)))
}

/// `PATCH /admin/layers/{id}`: changes titles and who sees the layer and its attributes (admin).
#[utoipa::path(patch, path = "/admin/layers/{id}", tag = "layers", security(("api_key" = [])),
    request_body(content_type = "application/json", description = "`{\"title\": {\"ja\", \"en\"}, \"visibility\": \"public\"|\"staff\", \"attribution\", \"attributes\": {\"<id or field>\": {\"title\", \"visibility\"}}}`, each optional"),
    responses((status = 200, description = "the layer as stored now"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_file(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    auth::require(&caller, Role::Admin, "layers made from files")?;
    let change: LayerChange =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the body: {e}")))?;
    let def = crate::layers::update(app.store.as_ref(), &id, &change).await?;
    follow(&app, &id).await?;
    Ok(Json(json!({ "layer": def })))
}

/// `DELETE /admin/layers/{id}`: removes a layer made from a file, with its features (admin).
#[utoipa::path(delete, path = "/admin/layers/{id}", tag = "layers", security(("api_key" = [])),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_file(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth::require(&caller, Role::Admin, "layers made from files")?;
    crate::layers::remove(app.store.as_ref(), &id).await?;
    follow(&app, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<LayerError> for ApiError {
    fn from(e: LayerError) -> Self {
        match e {
            LayerError::Bad(m) => ApiError::BadRequest(m),
            LayerError::NotFound(_) => ApiError::NotFound(e.to_string()),
            LayerError::Import(crate::import::ImportError::Store(e)) | LayerError::Store(e) => e.into(),
            LayerError::Import(e) => ApiError::BadRequest(e.to_string()),
        }
    }
}
