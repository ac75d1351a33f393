/* The Hugging Face cache layer without a network: id and file-name validation, which files a
 * pull keeps, where the cache is, and resolving a snapshot through refs/ (tests/integration/
 * hub.sh covers downloads against a stand-in Hub). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "hub/hub.h"
#include "hub/hub_internal.h"

static void test_id_valid(void)
{
	static const char *const good[] = {"BAAI/bge-small-en-v1.5", "bert-base-uncased",
	                                   "sentence-transformers/all-MiniLM-L6-v2",
	                                   "urchade/gliner_small-v2.1", "a/b"};
	static const char *const bad[] = {
	    "",      "/",     "../../etc", "/etc/passwd", "a/b/c",     "a//b", "a/",
	    "/a",    "a/..",  "a/.hidden", "a/b..c",      "a/b--c",    "-a/b", "a/b-",
	    "a b/c", "a/b?c", "a/b\\c",    "a/b%2e%2e",   "a/\xc3\xa9"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		CHECKF(hub_id_valid(good[i]), "%s rejected", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECKF(!hub_id_valid(bad[i]), "%s accepted", bad[i]);
	char long_id[300];
	memset(long_id, 'a', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = '\0';
	CHECK(!hub_id_valid(long_id));
	CHECK(!hub_id_valid(NULL));
}

static void test_file_names(void)
{
	CHECK(hub_file_name_safe("config.json"));
	CHECK(hub_file_name_safe("1_Pooling/config.json"));
	CHECK(!hub_file_name_safe("../config.json"));
	CHECK(!hub_file_name_safe("a/../../b"));
	CHECK(!hub_file_name_safe("./a"));
	CHECK(!hub_file_name_safe("/etc/passwd"));
	CHECK(!hub_file_name_safe("a//b"));
	CHECK(!hub_file_name_safe("a\\b"));
	CHECK(!hub_file_name_safe("a\nb"));
	CHECK(!hub_file_name_safe(""));
}

static void test_file_wanted(void)
{
	const char *const st[] = {"config.json",
	                          "model.safetensors",
	                          "pytorch_model.bin",
	                          "tokenizer.json",
	                          "vocab.txt",
	                          "README.md",
	                          "onnx/model.onnx",
	                          "1_Pooling/config.json",
	                          "2_Dense/model.safetensors",
	                          "2_Dense/pytorch_model.bin",
	                          "3_Dense/pytorch_model.bin",
	                          "openvino/openvino_model.xml",
	                          "tf_model.h5",
	                          "sentencepiece.bpe.model",
	                          "a/b/config.json"};
	const int n = (int)(sizeof st / sizeof *st);
	const int want[] = {1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0};
	for (int i = 0; i < n; i++)
		CHECKF(hub_file_wanted(st[i], st, n) == want[i], "%s: expected %d", st[i], want[i]);
	/* Without model.safetensors, the PyTorch checkpoint is the weights. */
	const char *const pt[] = {"config.json", "pytorch_model.bin"};
	CHECK(hub_file_wanted("pytorch_model.bin", pt, 2));
}

static void test_options_from_env(void)
{
	setenv("HF_HUB_CACHE", "/x/hub-cache", 1);
	setenv("HF_HOME", "/y/home", 1);
	setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
	setenv("HF_HUB_OFFLINE", "1", 1);
	setenv("HF_TOKEN", "tok", 1);
	struct hub_options o;
	hub_options_from_env(&o);
	CHECK_STREQ(o.cache_dir, "/x/hub-cache");
	CHECK_STREQ(o.endpoint, "http://127.0.0.1:9");
	CHECK_STREQ(o.token, "tok");
	CHECK_STREQ(o.revision, "main");
	CHECK(o.offline);
	unsetenv("HF_HUB_CACHE");
	setenv("HF_HUB_OFFLINE", "0", 1);
	hub_options_from_env(&o);
	CHECK_STREQ(o.cache_dir, "/y/home/hub");
	CHECK(!o.offline);
	unsetenv("HF_HOME");
	unsetenv("HF_ENDPOINT");
	unsetenv("HF_TOKEN");
	unsetenv("HF_HUB_OFFLINE");
	setenv("XDG_CACHE_HOME", "/z", 1);
	hub_options_from_env(&o);
	CHECK_STREQ(o.cache_dir, "/z/huggingface/hub");
	CHECK_STREQ(o.endpoint, "https://huggingface.co");
	unsetenv("XDG_CACHE_HOME");
	char *repo = hub_repo_dir(&o, "BAAI/bge-small-en-v1.5");
	char expect[1200];
	snprintf(expect, sizeof expect, "%s/models--BAAI--bge-small-en-v1.5", o.cache_dir);
	CHECK_STREQ(repo, expect);
	free(repo);
}

static void write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static void test_cache_resolve(void)
{
	char root[] = "/tmp/sy-test-hub-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	struct hub_options o;
	hub_options_from_env(&o);
	snprintf(o.cache_dir, sizeof o.cache_dir, "%s", root);
	o.progress = false;
	struct sy_error err = {0};
	char *dir = NULL;
	const char *commit = "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd";

	/* Not cached: a clear error that names the pull command. */
	CHECK(hub_cache_resolve(&o, "org/model", &err, &dir) == SY_ERR_NOT_FOUND);
	CHECKF(strstr(err.msg, "switchyard models pull org/model") != NULL, "%s", err.msg);

	/* Lay out a snapshot as a pull would: blob, link, ref. */
	char repo[1200], path[1400];
	snprintf(repo, sizeof repo, "%s/models--org--model", root);
	snprintf(path, sizeof path, "%s/blobs", repo);
	CHECK(hub_mkdirs(path, &err) == SY_OK);
	snprintf(path, sizeof path, "%s/blobs/e1", repo);
	write_str(path, "{}");
	CHECK(hub_link_snapshot(repo, commit, "1_Pooling/config.json", "e1", &err) == SY_OK);
	CHECK(hub_link_snapshot(repo, commit, "config.json", "e1", &err) == SY_OK);
	snprintf(path, sizeof path, "%s/snapshots/%s/1_Pooling/config.json", repo, commit);
	char target[256] = {0};
	CHECK(readlink(path, target, sizeof target - 1) > 0);
	CHECK_STREQ(target, "../../../blobs/e1");
	struct stat st;
	CHECKF(stat(path, &st) == 0 && st.st_size == 2, "the link does not reach the blob");

	/* By commit: no ref needed. By branch: through refs/. */
	snprintf(o.revision, sizeof o.revision, "%s", commit);
	CHECK(hub_cache_resolve(&o, "org/model", &err, &dir) == SY_OK);
	snprintf(path, sizeof path, "%s/snapshots/%s", repo, commit);
	CHECK_STREQ(dir, path);
	free(dir);
	snprintf(o.revision, sizeof o.revision, "main");
	CHECK(hub_cache_resolve(&o, "org/model", &err, &dir) == SY_ERR_NOT_FOUND);
	CHECK(hub_write_ref(repo, "main", commit, &err) == SY_OK);
	CHECK(hub_cache_resolve(&o, "org/model", &err, &dir) == SY_OK);
	CHECK_STREQ(dir, path);
	free(dir);

	/* A ref that does not hold a commit, a bad revision, a bad id. */
	snprintf(path, sizeof path, "%s/refs/v2", repo);
	write_str(path, "not a commit\n");
	snprintf(o.revision, sizeof o.revision, "v2");
	CHECK(hub_cache_resolve(&o, "org/model", &err, &dir) == SY_ERR_FORMAT);
	snprintf(o.revision, sizeof o.revision, "../../x");
	CHECK(hub_cache_resolve(&o, "org/model", &err, &dir) == SY_ERR_INVALID_ARG);
	snprintf(o.revision, sizeof o.revision, "main");
	CHECK(hub_cache_resolve(&o, "../etc", &err, &dir) == SY_ERR_INVALID_ARG);

	/* hub_resolve_model leaves paths and non-Hub names alone. */
	CHECK(hub_resolve_model("tests/fixtures/bert-tiny", true, &err, &dir) == SY_OK && !dir);
	CHECK(hub_resolve_model("use-lite", true, &err, &dir) == SY_OK && !dir);
	CHECK(hub_resolve_model("../x", true, &err, &dir) == SY_OK && !dir);

	char cmd[1300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	RUN(test_id_valid);
	RUN(test_file_names);
	RUN(test_file_wanted);
	RUN(test_options_from_env);
	RUN(test_cache_resolve);
	return harness_summary();
}
