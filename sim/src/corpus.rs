//! Synthetic chat text for benchmarks, generated as in the performance notes (§4.0): a
//! deterministic stream of mixed Chinese/English business messages with a low vocabulary,
//! so common substrings hit 10–20 % of rows (the worst case for posting lists and ranking).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Chinese business / chat phrases.
pub const PHRASES: [&str; 40] = [
    "农业局的报告已经提交",
    "这个问题正在处理中",
    "合同审批流程已完成",
    "麻烦把发票发一下",
    "下午三点在会议室开会",
    "请各部门负责人签字确认",
    "好的收到",
    "可以小刀吗",
    "亲，还在吗",
    "中国农业发展银行的贷款",
    "待处理的报销单",
    "会议纪要已经发到群里",
    "项目进度需要更新",
    "客户反馈产品质量问题",
    "明天上午九点出发",
    "请尽快回复邮件",
    "这个方案还需要修改",
    "预算已经超支了",
    "周五之前完成测试",
    "系统升级通知",
    "新员工入职培训",
    "年终总结报告",
    "供应商报价单",
    "物流已经发货",
    "仓库库存不足",
    "财务部门审核通过",
    "销售数据统计",
    "市场推广活动方案",
    "技术支持热线",
    "售后服务流程",
    "质量检测报告",
    "安全生产检查",
    "工程进度款支付",
    "在建工程验收",
    "人事调动通知",
    "办公用品采购",
    "差旅费用报销",
    "合同续签事宜",
    "谢谢老板",
    "包邮吗",
];

/// Latin / mixed tokens.
pub const TOKENS: [&str; 32] = [
    "meeting",
    "invoice",
    "deploy",
    "v2.3.1",
    "API",
    "SKU",
    "https://example.com/doc/123",
    "@张三",
    "#项目A",
    "[图片]",
    "[文件]",
    "ERP",
    "KPI",
    "OK",
    "shipping",
    "order",
    "Q3",
    "iPhone15",
    "PDF",
    "Excel",
    "review",
    "urgent",
    "ASAP",
    "budget",
    "report",
    "CRM",
    "release",
    "hotfix",
    "sprint",
    "demo",
    "feedback",
    "follow-up",
];

/// Platforms in row order (`i % 5`).
pub const PLATFORMS: [&str; 5] = ["eoffice", "wecom", "goofish", "worktool", "yunhu"];

/// One generated row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Row number.
    pub i: u64,
    /// One of [`PLATFORMS`].
    pub platform: &'static str,
    /// `chat{1..2000}`.
    pub chat_id: String,
    /// `m{i:09}`.
    pub msg_id: String,
    /// `user{1..5000}`.
    pub sender: String,
    /// 1_700_000_000_000 + 37·i.
    pub sent_at: i64,
    /// Mixed text (~177 bytes mean).
    pub text: String,
}

/// Deterministic row generator (seed 42 by default).
pub struct Corpus {
    rng: StdRng,
    i: u64,
}

impl Corpus {
    /// Generator with a seed.
    pub fn new(seed: u64) -> Self {
        Corpus {
            rng: StdRng::seed_from_u64(seed),
            i: 0,
        }
    }

    /// The next text only.
    pub fn text(&mut self) -> String {
        let mut pieces: Vec<String> = Vec::new();
        let mut len = 0;
        loop {
            let piece = if self.rng.random_bool(0.7) {
                PHRASES[self.rng.random_range(0..PHRASES.len())].to_string()
            } else {
                let n = self.rng.random_range(1..=4);
                (0..n)
                    .map(|_| TOKENS[self.rng.random_range(0..TOKENS.len())])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            len += piece.len() + 3;
            pieces.push(piece);
            if len >= 200 || self.rng.random_bool(0.07) {
                break;
            }
        }
        pieces.join("，")
    }
}

impl Iterator for Corpus {
    type Item = Row;
    fn next(&mut self) -> Option<Row> {
        let i = self.i;
        self.i += 1;
        let chat = self.rng.random_range(1..=2000);
        let sender = self.rng.random_range(1..=5000);
        let text = self.text();
        Some(Row {
            i,
            platform: PLATFORMS[(i % 5) as usize],
            chat_id: format!("chat{chat}"),
            msg_id: format!("m{i:09}"),
            sender: format!("user{sender}"),
            sent_at: 1_700_000_000_000 + 37 * i as i64,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_mixed() {
        let a: Vec<Row> = Corpus::new(42).take(200).collect();
        let b: Vec<Row> = Corpus::new(42).take(200).collect();
        assert_eq!(
            a.iter().map(|r| &r.text).collect::<Vec<_>>(),
            b.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        let mean = a.iter().map(|r| r.text.len()).sum::<usize>() / a.len();
        assert!((120..260).contains(&mean), "mean text length {mean}");
        assert!(a.iter().any(|r| r.text.contains("农业")));
        assert_eq!(a[7].platform, "goofish");
    }
}
