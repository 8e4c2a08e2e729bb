"""Ruby extraction: `#` comment blocks directly above, modules and classes in the name."""

from __future__ import annotations

import pytest

from seekcode.corpus.extract import ParseError, extractor_for

SOURCE = """\
# frozen_string_literal: true

module Net
  class Client
    # Sends a GET request to +path+.
    #
    # @param path [String] where to
    # @return [Response]
    def get(path)
      request(:get, path)
    end

    # call-seq:
    #   Client.open(host) -> client
    #
    # Opens a connection to host.
    def self.open(host)
      new(host).tap(&:connect)
    end

    def close
      @socket&.close
    end

    # :nodoc:
    def internal; end
  end
end

# Top-level helper that parses a URL.
def parse_url(s) = URI(s)
"""


@pytest.fixture
def functions():
    fns = extractor_for("client.rb").extract(SOURCE, "client.rb")  # type: ignore[union-attr]
    return {f.name: f for f in fns}


def test_names(functions):
    assert list(functions) == [
        "Net.Client.get",
        "Net.Client.open",
        "Net.Client.close",
        "Net.Client.internal",
        "parse_url",
    ]
    assert {f.language for f in functions.values()} == {"ruby"}


def test_comment_blocks(functions):
    assert functions["Net.Client.get"].docstring == (
        "Sends a GET request to +path+.\n\n@param path [String] where to\n@return [Response]"
    )
    assert (
        functions["Net.Client.open"].docstring == "Opens a connection to host."
    )  # call-seq dropped
    assert functions["Net.Client.close"].docstring == ""
    assert functions["Net.Client.internal"].docstring == ""  # :nodoc:
    assert functions["parse_url"].docstring == "Top-level helper that parses a URL."


def test_code_and_span(functions):
    get = functions["Net.Client.get"]
    assert get.code == "def get(path)\n  request(:get, path)\nend"
    assert (get.start_line, get.end_line) == (9, 11)


def test_malformed_file_is_a_parse_error():
    with pytest.raises(ParseError):
        extractor_for("a.rb").extract("def (((\n  end end end }}} ]] class <<<< \n" * 2, "a.rb")  # type: ignore[union-attr]
