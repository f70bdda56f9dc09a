const privateKeyStr = `-----BEGIN RSA PRIVATE KEY-----

....

-----END RSA PRIVATE KEY-----`;


const crypto = require("crypto");

const privateKey = crypto.createPrivateKey(privateKeyStr);


const fs = require("fs");

const zlib = require("zlib");

const readline = require("readline");


async function importAESGCMKey(keyBuffer) {

  try {

    // Ensure the key length is valid for AES

    if ([128, 192, 256].includes(256)) {

      return await crypto.webcrypto.subtle.importKey(

        "raw",

        keyBuffer,

        {

          name: "AES-GCM",

          length: 256,

        },

        true, // Whether the key is extractable (true in this case to allow for export later if needed)

        ["encrypt", "decrypt"], // Use for encryption and decryption

      );

    } else {

      throw new Error("Invalid AES key length. Must be 128, 12, or 256 bits.");

    }

  } catch (error) {

    console.error("Failed to import key:", error);

    throw error;

  }

}


async function decryptData(encryptedData, aesKey, iv) {

  const decryptedData = await crypto.subtle.decrypt(

    { name: "AES-GCM", iv: iv },

    aesKey,

    encryptedData,

  );

  return new TextDecoder().decode(decryptedData);

}


async function decryptBase64(privateKey, data) {

  if (data.key === undefined) {

    return data;

  }


  const aesKeyBuf = crypto.privateDecrypt(

    {

      key: privateKey,

      oaepHash: "SHA256",

    },

    Buffer.from(data.key, "base64"),

  );

  const aesKey = await importAESGCMKey(aesKeyBuf);


  const decryptedData = await decryptData(

    Buffer.from(data.data, "base64"),

    aesKey,

    Buffer.from(data.iv, "base64"),

  );


  return decryptedData.toString();

}


async function run() {

  let lineReader = readline.createInterface({

    input: fs.createReadStream("my_log.log.gz").pipe(zlib.createGunzip()),

  });


  lineReader.on("line", async (line) => {

    line = JSON.parse(line);


    const { Metadata, RequestBody, ResponseBody, ...remaining } = line;


    console.log({

      ...remaining,

      Metadata: await decryptBase64(privateKey, Metadata),

      RequestBody: await decryptBase64(privateKey, RequestBody),

      ResponseBody: await decryptBase64(privateKey, ResponseBody),

    });

    console.log("--");

  });

}


run();
