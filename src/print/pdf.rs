//! The PDF of a printed sheet (krilla): the map picture clipped to its frame at its true size,
//! and in vector over and around it the legend, the title, the scale bar, the ratio, the north
//! arrow, the note, the date, the attribution and 出典 and the synthetic-data notice. Text is
//! real text (searchable, copyable) in a subset of the configured font, which must cover
//! Japanese (Debian's Noto Sans CJK by default).

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use super::{Imprint, Layout, PrintError, Sheet, place, scale_bar};

const PT_PER_MM: f32 = 72.0 / 25.4;
const BLACK: (u8, u8, u8) = (0, 0, 0);
const GREY: (u8, u8, u8) = (64, 64, 64);
/// The synthetic-data notice, in a red that keeps 7:1 contrast on white.
const NOTICE_RED: (u8, u8, u8) = (150, 0, 0);

/// Loads the font printed text is set in (`index` picks a face of a collection).
pub fn load_font(path: &std::path::Path, index: u32) -> Result<Font, PrintError> {
    let failed = |message: String| PrintError::Font { path: path.display().to_string(), message };
    let bytes = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    Font::new(bytes.into(), index).ok_or_else(|| failed(format!("face {index} is not a font krilla can use")))
}

/// The words of the sheet in its language.
struct Words {
    scale: &'static str,
    centre: &'static str,
    printed: &'static str,
    paper: fn(&Sheet) -> String,
}

fn words(sheet: &Sheet) -> Words {
    if sheet.lang.as_deref() == Some("en") {
        Words {
            scale: "Scale",
            centre: "Centre",
            printed: "Printed",
            paper: |s| format!("{:?} {:?}", s.frame.paper, s.frame.orientation).to_lowercase().replacen('a', "A", 1),
        }
    } else {
        Words {
            scale: "縮尺",
            centre: "中心",
            printed: "印刷",
            paper: |s| {
                let o = if s.frame.orientation == super::Orientation::Landscape { "横" } else { "縦" };
                format!("{:?} {o}", s.frame.paper)
            },
        }
    }
}

/// The whole sheet as a one-page PDF; `picture` is the map as PNG or JPEG.
pub fn render(
    sheet: &Sheet,
    layout: &Layout,
    imprint: &Imprint,
    picture: Vec<u8>,
    font: &Font,
) -> Result<Vec<u8>, PrintError> {
    let bad = |m: String| PrintError::Invalid(m);
    let dims = imagesize::blob_size(&picture).map_err(|e| bad(format!("the map picture cannot be read: {e}")))?;
    let size_mm = place(sheet, layout, [dims.width as u32, dims.height as u32])?;
    let image = match imagesize::image_type(&picture) {
        Ok(imagesize::ImageType::Png) => Image::from_png(picture.into(), true),
        Ok(imagesize::ImageType::Jpeg) => Image::from_jpeg(picture.into(), true),
        _ => Err("not PNG or JPEG".to_owned()),
    }
    .map_err(|e| bad(format!("the map picture cannot be read: {e}")))?;

    let [page_w, page_h] = layout.page_mm;
    let mut document = Document::new();
    let title = if sheet.title.trim().is_empty() { "machizu".to_owned() } else { sheet.title.trim().to_owned() };
    document.set_metadata(
        Metadata::new()
            .title(title.clone())
            .creator("machizu".into())
            .language(sheet.lang.clone().unwrap_or_else(|| "ja".into())),
    );
    let settings = PageSettings::from_wh(mm(page_w), mm(page_h)).ok_or_else(|| bad("empty page".into()))?;
    let mut page = document.start_page_with(settings);
    let mut s = page.surface();
    let pen = Pen { font };

    // The map, centred in its frame and clipped to it, at the size its pixels cover.
    let [fx, fy, fw, fh] = layout.map_mm;
    let frame = rect_path(fx, fy, fw, fh);
    s.push_clip_path(&frame, &FillRule::NonZero);
    s.push_transform(&Transform::from_translate(mm(fx + (fw - size_mm[0]) / 2.0), mm(fy + (fh - size_mm[1]) / 2.0)));
    s.draw_image(image, Size::from_wh(mm(size_mm[0]), mm(size_mm[1])).ok_or_else(|| bad("empty map".into()))?);
    s.pop();
    legend(&mut s, &pen, sheet, layout);
    s.pop();
    pen.shape(&mut s, &frame, None, Some((BLACK, 0.6)));

    // Title above the map.
    pen.text(&mut s, fx, fy - 4.0, 14.0, &title, BLACK);

    // Below the map: scale bar, ratio and centre; north arrow; note and date; attribution.
    let w = words(sheet);
    let top = fy + fh + 4.0;
    let (metres, bar_mm) = scale_bar(sheet.frame.scale, fw);
    let segment = bar_mm / 4.0;
    for i in 0..4 {
        let fill = if i % 2 == 0 { BLACK } else { (255, 255, 255) };
        pen.shape(&mut s, &rect_path(fx + segment * f64::from(i), top + 2.0, segment, 1.6), Some(fill), None);
    }
    // The bar's outline, exactly `bar_mm` long: what a ruler on the paper measures.
    pen.shape(&mut s, &rect_path(fx, top + 2.0, bar_mm, 1.6), None, Some((BLACK, 0.4)));
    pen.text(&mut s, fx - 0.8, top + 6.8, 7.0, "0", BLACK);
    pen.text(&mut s, fx + bar_mm - 2.0, top + 6.8, 7.0, &format!("{} m", metres), BLACK);
    let ratio = format!("{} 1:{}（{}）", w.scale, thousands(sheet.frame.scale), (w.paper)(sheet));
    pen.text(&mut s, fx, top + 12.5, 9.0, &ratio, BLACK);
    let centre = format!("{} {:.5}°N {:.5}°E", w.centre, sheet.frame.lat, sheet.lon);
    pen.text(&mut s, fx, top + 17.0, 7.0, &centre, GREY);
    north_arrow(&mut s, &pen, fx + bar_mm + 10.0, top);

    let note_x = (fx + bar_mm + 22.0).max(page_w * 0.36);
    let attribution_x = page_w * 0.64;
    let mut y = top + 3.0;
    for line in wrap(sheet.note.trim(), attribution_x - note_x - 4.0, 8.0).into_iter().take(3) {
        pen.text(&mut s, note_x, y, 8.0, &line, BLACK);
        y += 4.0;
    }
    let printed = format!("{}: {} {}", w.printed, imprint.printed_at, imprint.printed_by);
    pen.text(&mut s, note_x, top + 17.0, 7.0, &printed, GREY);

    let mut y = top + 3.0;
    let width = page_w - 10.0 - attribution_x;
    for line in imprint.attribution.iter().flat_map(|a| wrap(a, width, 7.0)) {
        pen.text(&mut s, attribution_x, y, 7.0, &line, BLACK);
        y += 3.4;
    }
    for line in imprint.dataset_notice.iter().flat_map(|n| wrap(n, width, 7.0)) {
        pen.text(&mut s, attribution_x, y, 7.0, &line, NOTICE_RED);
        y += 3.4;
    }
    s.finish();
    page.finish();
    document.finish().map_err(|e| bad(format!("the PDF cannot be made: {e:?}")))
}

/// Draws in millimetres with one font.
struct Pen<'a> {
    font: &'a Font,
}

impl Pen<'_> {
    /// Text with its baseline starting at (`x`, `y`) mm.
    fn text(&self, s: &mut Surface, x: f64, y: f64, size: f32, text: &str, (r, g, b): (u8, u8, u8)) {
        if text.is_empty() {
            return;
        }
        s.set_stroke(None);
        s.set_fill(Some(Fill { paint: rgb::Color::new(r, g, b).into(), ..Fill::default() }));
        s.draw_text(Point::from_xy(mm(x), mm(y)), self.font.clone(), size, text, false, TextDirection::Auto);
    }

    fn shape(
        &self,
        s: &mut Surface,
        path: &krilla::geom::Path,
        fill: Option<(u8, u8, u8)>,
        stroke: Option<((u8, u8, u8), f32)>,
    ) {
        s.set_fill(fill.map(|(r, g, b)| Fill { paint: rgb::Color::new(r, g, b).into(), ..Fill::default() }));
        s.set_stroke(stroke.map(|((r, g, b), width)| Stroke {
            paint: rgb::Color::new(r, g, b).into(),
            width,
            opacity: NormalizedF32::ONE,
            ..Stroke::default()
        }));
        s.draw_path(path);
    }
}

/// The legend in the map's top-right corner: each layer's title and its entries with swatches.
fn legend(s: &mut Surface, pen: &Pen, sheet: &Sheet, layout: &Layout) {
    let groups: Vec<_> = sheet.legend.iter().filter(|g| !g.title.trim().is_empty()).collect();
    if groups.is_empty() {
        return;
    }
    let [fx, fy, fw, fh] = layout.map_mm;
    let width = 48.0;
    let rows = groups.iter().map(|g| 1 + g.entries.len()).sum::<usize>();
    let most = ((fh - 8.0) / 3.6).floor() as usize;
    let height = 3.6 * rows.min(most) as f64 + 3.0;
    let (x, mut y) = (fx + fw - width - 2.0, fy + 2.0);
    pen.shape(s, &rect_path(x, y, width, height), Some((255, 255, 255)), Some((GREY, 0.4)));
    y += 1.5;
    let mut row = 0;
    for g in groups {
        for (i, label) in std::iter::once(&g.title).chain(g.entries.iter().map(|e| &e.label)).enumerate() {
            if row == most {
                return;
            }
            y += 3.6;
            row += 1;
            if i == 0 {
                pen.text(s, x + 2.0, y - 0.8, 7.5, label, BLACK);
                continue;
            }
            let colour = parse_colour(&g.entries[i - 1].colour).unwrap_or(GREY);
            pen.shape(s, &rect_path(x + 3.0, y - 3.1, 5.0, 2.6), Some(colour), Some((GREY, 0.3)));
            pen.text(s, x + 10.0, y - 0.8, 7.0, label, BLACK);
        }
    }
}

/// A north arrow (Web Mercator maps have north up) with 北 / N under it.
fn north_arrow(s: &mut Surface, pen: &Pen, x: f64, y: f64) {
    let mut p = PathBuilder::new();
    p.move_to(mm(x), mm(y));
    p.line_to(mm(x + 2.5), mm(y + 8.0));
    p.line_to(mm(x), mm(y + 6.0));
    p.line_to(mm(x - 2.5), mm(y + 8.0));
    p.close();
    if let Some(path) = p.finish() {
        pen.shape(s, &path, Some(BLACK), None);
    }
    pen.text(s, x - 2.0, y + 12.5, 8.0, "北 N", BLACK);
}

fn rect_path(x: f64, y: f64, w: f64, h: f64) -> krilla::geom::Path {
    let mut p = PathBuilder::new();
    p.push_rect(Rect::from_xywh(mm(x), mm(y), mm(w), mm(h)).expect("a rectangle of positive size"));
    p.finish().expect("a rectangle is a path")
}

fn mm(v: f64) -> f32 {
    v as f32 * PT_PER_MM
}

fn parse_colour(c: &str) -> Option<(u8, u8, u8)> {
    let hex = c.strip_prefix('#').filter(|h| h.len() == 6)?;
    let v = u32::from_str_radix(hex, 16).ok()?;
    Some(((v >> 16) as u8, (v >> 8) as u8, v as u8))
}

/// 2500 → "2,500".
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Breaks `text` into lines no wider than `width_mm` at `size` pt, by estimate: a full-width
/// character is one em, any other about half. Japanese breaks anywhere; Latin at spaces
/// where it can.
fn wrap(text: &str, width_mm: f64, size: f32) -> Vec<String> {
    let em_mm = f64::from(size) / f64::from(PT_PER_MM);
    let width_of = |c: char| if c as u32 >= 0x2E80 { em_mm } else { em_mm * 0.55 };
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        let mut used = 0.0;
        for c in paragraph.chars() {
            if line.is_empty() && c.is_whitespace() {
                continue;
            }
            if used + width_of(c) > width_mm && !line.is_empty() {
                let cut = line.rfind(' ').filter(|_| !c.is_whitespace() && c.is_ascii()).unwrap_or(line.len());
                let rest = line.split_off(cut);
                lines.push(line.trim_end().to_owned());
                line = rest.trim_start().to_owned();
                used = line.chars().map(width_of).sum();
                if line.is_empty() && c.is_whitespace() {
                    continue;
                }
            }
            line.push(c);
            used += width_of(c);
        }
        lines.push(line.trim_end().to_owned());
    }
    lines.retain(|l| !l.is_empty());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_colours_and_lines() {
        assert_eq!(
            (thousands(2500), thousands(100), thousands(1_000_000)),
            ("2,500".into(), "100".into(), "1,000,000".into())
        );
        assert_eq!(parse_colour("#e8743b"), Some((0xe8, 0x74, 0x3b)));
        assert_eq!(parse_colour("red"), None);
        // 7 pt: a full-width character is 2.47 mm, so 20 mm holds 8 of them.
        let lines = wrap("出典：国土地理院（地理院タイル）を加工して作成", 20.0, 7.0);
        assert!(lines.len() == 3 && lines.iter().all(|l| l.chars().count() <= 8), "{lines:?}");
        assert_eq!(wrap("Synthetic demo data not real", 20.0, 7.0), ["Synthetic demo", "data not real"]);
    }
}
