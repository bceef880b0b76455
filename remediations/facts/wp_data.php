error_reporting(0); $GLOBALS["fix502_ok"] = false; ob_start();
register_shutdown_function(function () {
    $out = ob_get_clean();
    if ($GLOBALS["fix502_ok"]) { echo $out; return; }
    $out = preg_replace("#<(style|script|head)\b.*?</\\1>#is", " ", (string) $out);
    $t = trim(preg_replace("/\s+/", " ", strip_tags((string) $out)));
    $e = error_get_last();
    if ($t === "" && $e) { $t = $e["message"]; }
    echo "error=", substr($t === "" ? "no output" : $t, 0, 300), "\n";
});
$_SERVER["HTTP_HOST"] = getenv("FIX502_HOST") ?: "localhost";
$_SERVER["REQUEST_URI"] = "/"; $_SERVER["SERVER_NAME"] = $_SERVER["HTTP_HOST"];
define("SHORTINIT", true);
require "./wp-load.php";
$d = array("active_plugins" => get_option("active_plugins"), "template" => get_option("template"),
    "stylesheet" => get_option("stylesheet"));
echo "data=", json_encode($d), "\n";
$GLOBALS["fix502_ok"] = true;
