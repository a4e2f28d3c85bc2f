package org.gptjvm.model.data;

import org.gptjvm.model.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;

import static org.gptjvm.model.ModelTestSupport.oneLineError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CharTokenizerTest {

    @Test
    void vocabularyIsSortedDistinctCharacters() {
        CharTokenizer tok = CharTokenizer.fromText("hello world");
        assertEquals(" dehlorw", tok.vocabulary()); // sorted(list(set(text)))
        assertEquals(8, tok.vocabSize());
        assertArrayEquals(new int[]{3, 2, 4, 4, 5, 0, 7, 5, 6, 4, 1}, tok.encode("hello world"));
    }

    @Test
    void sortsByCodePointNotUtf16Units() {
        // U+FF01 (fullwidth '!') sorts before U+1F600 by code point, as Python's sorted(set(text));
        // sorting UTF-16 units would put the emoji's surrogates (0xD83D) first
        String text = "b\uFF01a\uD83D\uDE00";
        CharTokenizer tok = CharTokenizer.fromText(text);
        assertEquals("ab\uFF01\uD83D\uDE00", tok.vocabulary());
        int[] cps = tok.vocabulary().codePoints().toArray();
        int[] sorted = Arrays.stream(cps).sorted().distinct().toArray();
        assertArrayEquals(sorted, cps);
    }

    @Test
    void roundTripsTextOutsideTheBmp() {
        String text = "héllo 😀 wörld 🎉😀 𝄞 ！ naïve 你好\n\ttab 😀";
        CharTokenizer tok = CharTokenizer.fromText(text);
        assertEquals(text.codePoints().distinct().count(), tok.vocabSize());
        int[] ids = tok.encode(text);
        assertEquals(text.codePointCount(0, text.length()), ids.length, "one token per code point");
        assertEquals(text, tok.decode(ids));
        int smile = tok.encode("😀")[0];
        assertEquals("😀", tok.decode(smile));
        assertEquals(1, tok.encode("😀").length);
        // the vocabulary string rebuilds the same tokenizer (the checkpoints' chars metadata)
        CharTokenizer again = CharTokenizer.fromVocabulary(tok.vocabulary());
        assertArrayEquals(ids, again.encode(text));
    }

    @Test
    void unknownCharacterIsAOneLineErrorNamingIt() {
        CharTokenizer tok = CharTokenizer.fromText("abc");
        String m = oneLineError(() -> tok.encode("abX"));
        assertTrue(m.contains("X") && m.contains("U+0058"), m);
        String nl = oneLineError(() -> tok.encode("a\nb"));
        assertTrue(nl.contains("U+000A"), nl);
        String emoji = oneLineError(() -> tok.encode("a😀"));
        assertTrue(emoji.contains("U+1F600") && emoji.contains("😀"), emoji);
    }

    @Test
    void fromVocabularyRejectsUnsortedOrRepeatedCharacters() {
        oneLineError(() -> CharTokenizer.fromVocabulary("ba"));
        oneLineError(() -> CharTokenizer.fromVocabulary("abb"));
        assertEquals(3, CharTokenizer.fromVocabulary("abc").vocabSize());
    }

    @Test
    void tinyShakespeareHas65CharactersAndRoundTrips() {
        Path file = Shared.tinyShakespeare();
        String text = TextData.readText(file);
        assertEquals(1_115_394, text.codePointCount(0, text.length()));
        CharTokenizer tok = CharTokenizer.fromText(text);
        assertEquals(65, tok.vocabSize());
        // the vocabulary of the lecture (and of the PyTorch fixtures' chars metadata)
        assertEquals("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", tok.vocabulary());
        int[] ids = tok.encode(text);
        assertEquals(1_115_394, ids.length);
        assertEquals(text, tok.decode(ids));
        // the lecture's encode("hii there")
        assertArrayEquals(new int[]{46, 47, 47, 1, 58, 46, 43, 56, 43}, tok.encode("hii there"));
    }
}
