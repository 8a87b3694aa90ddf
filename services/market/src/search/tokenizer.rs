//! The two analyzers the listing index registers: Chinese by jieba, English by a stemmer.
//!
//! Both lowercase, so "Apple" in a Chinese title and "apple" in a query meet. The names are part of
//! the index schema: an index written with other analyzers must be rebuilt, not reopened.

use tantivy::Index;
use tantivy::tokenizer::{Language, LowerCaser, SimpleTokenizer, Stemmer, TextAnalyzer};
use tantivy_jieba::JiebaTokenizer;

/// Chinese text: jieba in search mode, which emits the long words and the shorter words inside
/// them ("红富士苹果" gives 红富士, 富士 and 苹果), so a buyer who types the short word finds the long
/// one; then lowercase for the Latin letters Chinese text carries.
pub(crate) const ZH: &str = "terrace_zh";

/// English text: words split on non-alphanumerics, lowercased, Snowball-stemmed ("apples" and
/// "apple" both index as "appl").
pub(crate) const EN: &str = "terrace_en";

/// Registers both analyzers on `index`; done on every open, since tantivy does not persist them.
pub(crate) fn register(index: &Index) {
    let tokenizers = index.tokenizers();
    tokenizers.register(
        ZH,
        TextAnalyzer::builder(JiebaTokenizer::with_search_mode(true))
            .filter(LowerCaser)
            .build(),
    );
    tokenizers.register(
        EN,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::Schema;
    use tantivy::tokenizer::TokenStream;

    fn tokens(name: &str, text: &str) -> Vec<String> {
        let index = Index::create_in_ram(Schema::builder().build());
        register(&index);
        let mut analyzer = index.tokenizers().get(name).expect("registered");
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push(token.text.clone());
        }
        out
    }

    #[test]
    fn jieba_search_mode_emits_the_short_word_inside_the_long_one() {
        let zh = tokens(ZH, "红富士苹果");
        assert!(zh.contains(&"苹果".to_owned()), "{zh:?}");
    }

    #[test]
    fn english_plural_and_singular_stem_alike() {
        assert_eq!(tokens(EN, "Apples"), tokens(EN, "apple"));
    }
}
