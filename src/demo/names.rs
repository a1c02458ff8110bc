//! Place names and other word lists for the synthetic demo city.
//!
//! The 大字 names are Obanazawa's real district names (public place names), used so the demo
//! reads like the city; every person's name generated from these lists is fictitious and is
//! marked （架空）.

/// 大字 (oaza) of Obanazawa; the first is the town centre.
pub const OAZA: &[&str] = &[
    "尾花沢",
    "若畑",
    "名木沢",
    "鶴子",
    "牛房野",
    "延沢",
    "野黒沢",
    "六沢",
    "正厳",
    "上柳渡戸",
    "北郷",
    "丹生",
    "押切",
    "母袋",
    "原田",
    "中島",
    "寺内",
    "畑沢",
    "高橋",
    "五十沢",
    "荻袋",
    "宮沢",
    "二藤袋",
    "市野々",
    "細野",
    "岩谷沢",
    "芦沢",
    "名木沢新田",
    "富山",
    "朧気",
];

/// 字 (aza) names for rural parcels.
pub const AZA: &[&str] = &[
    "上川原",
    "下川原",
    "中田",
    "前田",
    "後田",
    "西原",
    "東原",
    "北山",
    "南沢",
    "大谷地",
    "小谷地",
    "清水",
    "堤下",
    "宮ノ下",
    "道ノ上",
    "寺前",
    "新田",
    "大久保",
    "長根",
    "柳原",
];

/// 字 (aza) names for the town centre.
pub const TOWN_AZA: &[&str] = &["上町", "中町", "下町", "新町", "横町", "本町", "梺町", "五日町", "六日町", "仲町"];

pub const SURNAMES: &[&str] = &[
    "佐藤", "鈴木", "高橋", "伊藤", "渡辺", "斎藤", "阿部", "武田", "芦野", "大類", "菅原", "荒木", "柴田", "奥山",
    "星川", "結城", "齋藤", "丹野", "尾形", "沼澤",
];

pub const GIVEN_NAMES: &[&str] = &[
    "一郎", "次郎", "三郎", "健一", "和子", "幸子", "洋子", "誠", "清", "勝", "明美", "由美", "隆", "浩", "恵子",
    "正男", "春子", "直樹", "翔太", "花子",
];

pub const HAZARD_STATUS: &[&str] = &["特定空家等", "管理不全空家等", "要経過観察"];

pub const HAZARD_STRUCTURE: &[&str] = &["木造平屋建", "木造2階建", "木造2階建（土蔵付）", "鉄骨造2階建"];

pub const HAZARD_NOTES: &[&str] = &[
    "屋根の一部が崩落。積雪による倒壊のおそれ",
    "外壁の剥落あり。通学路に面する",
    "雪囲いなし。軒先のつららが道路に張り出す",
    "窓ガラス破損。動物の侵入跡あり",
    "基礎の沈下により建物が傾斜",
    "所有者と連絡済み。春に解体予定",
];
