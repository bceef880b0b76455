<?php
/**
 * Plugin Name: fix502 plugin bisection (temporary)
 * Description: Installed by fix502 to find a crashing plugin one request at a time; removed when the run ends.
 *
 * Visitors never see it: it acts only on a request that carries X-Fix502-Bisect signed with this
 * run's key (HMAC-SHA256, checked with hash_equals), unexpired, and made from the host itself.
 * Such a request loads WordPress without the plugins it names (option_active_plugins and
 * site_option_active_sitewide_plugins are filtered for that request only) and is never cached.
 * Like WordPress's Health Check troubleshooting mode, without a cookie: the header is made fresh
 * for every probe and expires within minutes.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The verified request: array( 'mode' => 'echo'|'off', 'nonce' => ..., 'off' => array( entries ) ),
 * or null for every request that is not a valid signed probe (every visitor's).
 */
function fix502_bisect_request( $header, $key, $now, $remote, $local ) {
	if ( ! is_string( $header ) || strlen( $header ) > 7000 ) {
		return null;
	}
	$parts = explode( '.', $header );
	if ( count( $parts ) !== 6 || 'v1' !== $parts[0] ) {
		return null;
	}
	list( , $mode, $expiry, $nonce, $off64, $sig ) = $parts;
	$message = "fix502-bisect-v1\n" . $mode . "\n" . $expiry . "\n" . $nonce . "\n" . $off64;
	if ( ! is_string( $sig ) || ! hash_equals( hash_hmac( 'sha256', $message, $key ), $sig ) ) {
		return null;
	}
	if ( ! ctype_digit( $expiry ) || (int) $expiry < $now || (int) $expiry > $now + 900 ) {
		return null; // expired, or valid for longer than any probe needs
	}
	if ( ! in_array( $mode, array( 'echo', 'off' ), true ) || ! preg_match( '/^[0-9a-f]{16,64}$/', $nonce ) ) {
		return null;
	}
	$loopback = ( '127.' === substr( (string) $remote, 0, 4 ) || '::1' === $remote );
	if ( ! $loopback && ( '' === (string) $remote || (string) $remote !== (string) $local ) ) {
		return null; // only the host itself sends probes (curl --resolve to its own address)
	}
	$raw = base64_decode( strtr( $off64, '-_', '+/' ), true );
	if ( false === $raw ) {
		return null;
	}
	$off = '' === $raw ? array() : explode( "\n", $raw );
	return array( 'mode' => $mode, 'nonce' => $nonce, 'off' => $off );
}

/** Active plugins without those whose entry (akismet for akismet/akismet.php) is switched off. */
function fix502_bisect_filter( $plugins, $off, $keyed ) {
	if ( ! is_array( $plugins ) ) {
		return $plugins;
	}
	$kept = array();
	foreach ( $plugins as $k => $v ) {
		$file = $keyed ? (string) $k : (string) $v;
		$slash = strpos( $file, '/' );
		$entry = false === $slash ? $file : substr( $file, 0, $slash );
		if ( ! in_array( $entry, $off, true ) ) {
			$kept[ $k ] = $v;
		}
	}
	return $keyed ? $kept : array_values( $kept );
}

( function () {
	$request = fix502_bisect_request(
		isset( $_SERVER['HTTP_X_FIX502_BISECT'] ) ? $_SERVER['HTTP_X_FIX502_BISECT'] : '',
		'@KEY@',
		time(),
		isset( $_SERVER['REMOTE_ADDR'] ) ? $_SERVER['REMOTE_ADDR'] : '',
		isset( $_SERVER['SERVER_ADDR'] ) ? $_SERVER['SERVER_ADDR'] : ''
	);
	if ( null === $request ) {
		return;
	}
	if ( ! defined( 'DONOTCACHEPAGE' ) ) {
		define( 'DONOTCACHEPAGE', true ); // page caches must not store a page with plugins missing
	}
	if ( function_exists( 'nocache_headers' ) ) {
		nocache_headers();
	}
	header( 'Cache-Control: no-store, no-cache, must-revalidate, max-age=0, private' );
	$marker = hash_hmac( 'sha256', 'echo ' . $request['nonce'], '@KEY@' );
	header( 'X-Fix502-Bisect: ' . $marker );
	if ( 'echo' === $request['mode'] ) {
		// Loaded, key accepted, a worker answered: per-request bisection can work here.
		echo 'fix502-bisect-echo:' . $marker . "\n";
		exit;
	}
	$off = $request['off'];
	add_filter(
		'option_active_plugins',
		function ( $plugins ) use ( $off ) {
			return fix502_bisect_filter( $plugins, $off, false );
		},
		PHP_INT_MAX
	);
	add_filter(
		'site_option_active_sitewide_plugins',
		function ( $plugins ) use ( $off ) {
			return fix502_bisect_filter( $plugins, $off, true );
		},
		PHP_INT_MAX
	);
	add_filter(
		'wp_headers',
		function ( $headers ) {
			$headers['Cache-Control'] = 'no-store, no-cache, must-revalidate, max-age=0, private';
			return $headers;
		},
		PHP_INT_MAX
	);
} )();
